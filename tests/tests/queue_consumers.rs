//! Queue consumers and schedules as the local gateway delivers them from a fixture template:
//! a batch with one bad message (the others are handled once, the bad one is retried and
//! then waits in the dead-letter queue), over the in-process queue and over SQS on moto;
//! and a schedule fired on demand.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runcrew_local::{Background, Running};
use runcrew_shared::queue::sqs::SqsQueue;
use runcrew_shared::queue::{Queue, QueueName};
use runcrew_shared::tasks::queue::{Handled, MessageFuture, QueueFunction, QueueMessage};
use runcrew_shared::tasks::schedule::{ScheduleFunction, Tick, TickFuture};
use runcrew_shared::{App, Needs, TaskError};
use serde_json::{Value, json};

const FIXTURE: &str = r#"
Resources:
  PushQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy: { deadLetterTargetArn: !GetAtt PushDeadLetterQueue.Arn, maxReceiveCount: 3 }
  PushDeadLetterQueue:
    Type: AWS::SQS::Queue
  PushFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: picky-push } }
    Properties:
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt PushQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
  SweepFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: counting-sweep } }
    Properties:
      Events:
        Hourly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 hour)
            Input: '{"schedule": "hourly-sweep"}'
            RetryPolicy: { MaximumRetryAttempts: 2 }
  BrokenFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: broken-sweep } }
    Properties:
      Events:
        Nightly:
          Type: ScheduleV2
          Properties: { ScheduleExpression: "cron(0 3 * * ? *)" }
"#;

/// What the picky consumer did, by the test run named in each message: the numbers it
/// handled, and how many times it refused each bad one.
#[derive(Debug, Default, Clone)]
struct Seen {
    handled: Vec<u64>,
    refused: BTreeMap<u64, u32>,
}

static SEEN: Mutex<BTreeMap<String, Seen>> = Mutex::new(BTreeMap::new());

fn seen(run: &str) -> Seen {
    SEEN.lock()
        .expect("lock")
        .get(run)
        .cloned()
        .unwrap_or_default()
}

/// Handles `{"run", "n", "bad"}` messages: refuses the bad ones every time.
fn picky<'a>(_: &'a App, message: &'a QueueMessage) -> MessageFuture<'a> {
    Box::pin(async move {
        let run = message.body["run"].as_str().unwrap_or_default().to_owned();
        let n = message.body["n"].as_u64().unwrap_or(u64::MAX);
        let bad = message.body["bad"] == json!(true);
        let mut all = SEEN.lock().map_err(|_| TaskError("poisoned".into()))?;
        let seen = all.entry(run).or_default();
        if bad {
            *seen.refused.entry(n).or_default() += 1;
            Err(TaskError(format!("message {n} is refused")))
        } else {
            seen.handled.push(n);
            Ok(Handled::Done)
        }
    })
}

static PICKY_PUSH: QueueFunction = QueueFunction {
    binary: "picky-push",
    queue: QueueName::Push,
    needs: Needs::NOTHING,
    handler: picky,
};

static TICKS: Mutex<Vec<Tick>> = Mutex::new(Vec::new());

fn counting<'a>(_: &'a App, tick: &'a Tick) -> TickFuture<'a> {
    Box::pin(async move {
        TICKS
            .lock()
            .map_err(|_| TaskError("poisoned".into()))?
            .push(tick.clone());
        Ok(())
    })
}

fn broken<'a>(_: &'a App, _: &'a Tick) -> TickFuture<'a> {
    Box::pin(async { Err(TaskError("the reminders table is missing".into())) })
}

static COUNTING_SWEEP: ScheduleFunction = ScheduleFunction {
    binary: "counting-sweep",
    needs: Needs::NOTHING,
    handler: counting,
};

static BROKEN_SWEEP: ScheduleFunction = ScheduleFunction {
    binary: "broken-sweep",
    needs: Needs::NOTHING,
    handler: broken,
};

/// The fixture served over `app`, failed messages coming back at once.
async fn serve_fixture(app: Arc<App>) -> Running {
    let spec = runcrew_local::template::parse(FIXTURE, &HashMap::new()).expect("fixture template");
    let listener = runcrew_local::bind(0).await.expect("bind");
    let background = Background {
        queue_tasks: vec![&PICKY_PUSH],
        schedule_tasks: vec![&COUNTING_SWEEP, &BROKEN_SWEEP],
        polling: runcrew_local::queues::Polling {
            retry_delay: Duration::ZERO,
            idle_pause: Duration::from_millis(20),
        },
        schedule_timer: false,
    };
    runcrew_local::serve_with(listener, app, spec, &[], background).expect("serve")
}

/// Ten jobs of one run; job `bad` is one the consumer always refuses.
async fn send_ten(queue: &dyn Queue, run: &str, bad: u64) {
    for n in 0..10 {
        queue
            .send(
                QueueName::Push,
                &json!({"run": run, "n": n, "bad": n == bad}),
            )
            .await
            .expect("send");
    }
}

async fn queues_report(api: &Running) -> Value {
    let (status, body) =
        runcrew_tests::call(runcrew_tests::http().get(format!("{}/_local/queues", api.url())))
            .await;
    assert_eq!(status, 200, "{body}");
    body["queues"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["queue"] == "PushQueue"))
        .cloned()
        .expect("PushQueue reported")
}

/// Asserts what the consumer saw of `run`: every good job once, the bad one three times.
fn assert_nine_once_and_the_bad_one_three_times(run: &str, bad: u64) {
    let seen = seen(run);
    let mut handled = seen.handled.clone();
    handled.sort_unstable();
    let expected: Vec<u64> = (0..10).filter(|n| *n != bad).collect();
    assert_eq!(handled, expected, "each good job handled exactly once");
    assert_eq!(
        seen.refused,
        BTreeMap::from([(bad, 3)]),
        "the bad job was tried maxReceiveCount times"
    );
}

#[tokio::test]
async fn in_process_one_bad_message_is_retried_then_dead_lettered_and_the_others_are_handled_once()
{
    // given the fixture served over the in-process queue, ten jobs waiting, job 7 bad
    let dir = tempfile::tempdir().expect("tempdir");
    let app = runcrew_tests::local_app(dir.path()).await;
    let run = uuid::Uuid::new_v4().to_string();
    send_ten(app.queue().expect("queue"), &run, 7).await;
    // when the gateway delivers them
    let api = serve_fixture(app).await;
    // then job 7 ends in the dead-letter list, and nothing is left in the queue
    let queue = runcrew_tests::eventually("job 7 in the dead-letter list", || {
        let api = &api;
        async move {
            let queue = queues_report(api).await;
            (queue["dead_letters"].as_array().map(Vec::len) == Some(1)
                && queue["depth"] == 0
                && queue["in_flight"] == 0)
                .then_some(queue)
        }
    })
    .await;
    let dead = &queue["dead_letters"][0];
    assert_eq!(dead["body"]["n"], 7);
    assert_eq!(dead["receive_count"], 3);
    assert_eq!(queue["dead_letter_queue"], "PushDeadLetterQueue");
    assert_eq!(
        queue["consumers"][0],
        json!({"function": "PushFunction", "batches": queue["consumers"][0]["batches"], "handled": 9, "failed": 3})
    );
    assert_nine_once_and_the_bad_one_three_times(&run, 7);
    api.stop().await;
}

/// An SQS client for the moto server.
fn moto_sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&runcrew_tests::sdk_config())
            .endpoint_url(runcrew_tests::s3_endpoint())
            .build(),
    )
}

#[tokio::test]
async fn on_sqs_one_bad_message_is_retried_then_dead_lettered_and_the_others_are_handled_once() {
    use aws_sdk_sqs::types::QueueAttributeName;
    // given a queue on moto whose redrive policy gives up after three receives
    let client = moto_sqs();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let dlq_url = client
        .create_queue()
        .queue_name(format!("push-dlq-{suffix}"))
        .send()
        .await
        .expect("create the dead-letter queue")
        .queue_url()
        .expect("url")
        .to_owned();
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("arn");
    let url = client
        .create_queue()
        .queue_name(format!("push-{suffix}"))
        .attributes(QueueAttributeName::VisibilityTimeout, "60")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}).to_string(),
        )
        .send()
        .await
        .expect("create the queue")
        .queue_url()
        .expect("url")
        .to_owned();
    // and the fixture served with that queue as the push queue, ten jobs waiting, job 4 bad
    let dir = tempfile::tempdir().expect("tempdir");
    let local = runcrew_tests::local_app(dir.path()).await;
    let sqs = Arc::new(SqsQueue::new(client.clone(), Some(url)));
    let app = Arc::new((*local).clone().with_queue(sqs));
    let run = uuid::Uuid::new_v4().to_string();
    send_ten(app.queue().expect("queue"), &run, 4).await;
    // when the gateway delivers them
    let api = serve_fixture(app).await;
    // then job 4 waits in the dead-letter queue
    let dead: Value = runcrew_tests::eventually("job 4 in the SQS dead-letter queue", || {
        let (client, dlq_url) = (&client, &dlq_url);
        async move {
            let received = client
                .receive_message()
                .queue_url(dlq_url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .send()
                .await
                .ok()?;
            let body = received.messages().first()?.body()?.to_owned();
            serde_json::from_str(&body).ok()
        }
    })
    .await;
    assert_eq!(dead["n"], 4);
    assert_eq!(dead["run"], run.as_str());
    // and the queue is empty, with nothing in flight
    let queue = runcrew_tests::eventually("an empty push queue", || {
        let api = &api;
        async move {
            let queue = queues_report(api).await;
            (queue["depth"] == 0 && queue["in_flight"] == 0).then_some(queue)
        }
    })
    .await;
    assert!(queue["dead_letters"].is_null(), "SQS keeps them: {queue}");
    assert_nine_once_and_the_bad_one_three_times(&run, 4);
    api.stop().await;
}

#[tokio::test]
async fn a_consumer_handles_each_message_alone_and_never_logs_a_body() {
    use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
    // given a batch with a bad job, and one whose body is not JSON, both carrying an address
    let run = uuid::Uuid::new_v4().to_string();
    let message = |id: &str, body: String| {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_owned());
        m.body = Some(body);
        m
    };
    let mut event = SqsEvent::default();
    event.records = vec![
        message(
            "good",
            json!({"run": run, "n": 1, "to": "runner@example.com"}).to_string(),
        ),
        message(
            "bad",
            json!({"run": run, "n": 2, "bad": true, "to": "runner@example.com"}).to_string(),
        ),
        message("garbled", "to: runner@example.com".to_owned()),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let app = runcrew_tests::local_app(dir.path()).await;
    // when the consumer handles it
    let logs = runcrew_tests::logs::capture();
    let response = runcrew_shared::tasks::queue::handle_event(&PICKY_PUSH, &app, event).await;
    // then the bad and the garbled ones come back, the good one is done
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["bad", "garbled"]);
    assert_eq!(seen(&run).handled, [1]);
    // and one line per message names it by id, never by what it says
    let lines = logs.lines();
    for id in ["good", "bad", "garbled"] {
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.to_string().contains(&format!("\"{id}\"")))
                .count(),
            1,
            "{id}: {lines:?}"
        );
    }
    assert!(
        lines
            .iter()
            .all(|l| !l.to_string().contains("runner@example.com")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_schedule_fired_on_demand_runs_its_tick_once_with_the_template_input() {
    // given the fixture served
    let dir = tempfile::tempdir().expect("tempdir");
    let api = serve_fixture(runcrew_tests::local_app(dir.path()).await).await;
    let before = TICKS.lock().expect("lock").len();
    // when the sweep's schedule is fired
    let (status, body) = runcrew_tests::call(
        runcrew_tests::http().post(format!("{}/_local/schedules/SweepFunction", api.url())),
    )
    .await;
    // then its tick ran once, named as the template's Input names it
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["fired"][0]["event"], "Hourly");
    assert_eq!(body["fired"][0]["ok"], true);
    let ticks = TICKS.lock().expect("lock")[before..].to_vec();
    assert_eq!(ticks.len(), 1, "{ticks:?}");
    assert_eq!(ticks[0].schedule, "hourly-sweep");
    let (_, listed) =
        runcrew_tests::call(runcrew_tests::http().get(format!("{}/_local/schedules", api.url())))
            .await;
    assert_eq!(listed["timer"], false);
    assert_eq!(listed["schedules"][0]["function"], "SweepFunction");
    assert_eq!(listed["schedules"][0]["ticks"], 1);
    // and a failing tick says why and how AWS would retry it
    let (status, body) = runcrew_tests::call(
        runcrew_tests::http().post(format!("{}/_local/schedules/BrokenFunction", api.url())),
    )
    .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["fired"][0]["error"], "the reminders table is missing");
    assert_eq!(body["fired"][0]["retries_on_aws"], 185);
    // and a function without a schedule is a 404 that says so
    let (status, body) = runcrew_tests::call(
        runcrew_tests::http().post(format!("{}/_local/schedules/PushFunction", api.url())),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "schedule_not_found");
    api.stop().await;
}
