//! The push queue's message: the notification as the inbox holds it, so the `push`
//! consumer needs no read of the inbox, and its id is the job's id (a redelivered job is
//! recognised per device by it).

use std::collections::BTreeMap;

use runcrew_shared::queue::{QueueName, send_or_park};
use runcrew_shared::{ApiError, App};
use serde_json::Value;

use super::inbox::{self, Notification};

/// Puts `notification` in its person's inbox and queues its push, for a task whose own
/// work has already committed (a finished import, a written export): a queue that stays
/// down parks the push job in the table for an operator rather than failing that work.
pub async fn deliver_and_queue(app: &App, notification: &Notification) -> Result<(), ApiError> {
    let store = app.store()?;
    inbox::deliver(store, notification).await?;
    send_or_park(
        app.queue()?,
        store,
        QueueName::Push,
        &message(notification)?,
    )
    .await;
    Ok(())
}

/// The queue message for `notification`.
pub fn message(notification: &Notification) -> Result<Value, ApiError> {
    serde_json::to_value(notification)
        .map_err(|e| ApiError::Internal(format!("a push job cannot be written: {e}")))
}

/// Reads a queue message back; the error names what is wrong, never the message's text.
pub fn read(message: &Value) -> Result<Notification, String> {
    serde_json::from_value(message.clone()).map_err(|e| format!("not a push job: {e}"))
}

/// What the app receives beside the title and text, to open the right screen: strings
/// only, as FCM requires.
pub fn push_data(notification: &Notification) -> BTreeMap<String, String> {
    let mut data = BTreeMap::from([
        ("type".to_owned(), notification.kind.as_str().to_owned()),
        (
            "notification_id".to_owned(),
            notification.id.as_str().to_owned(),
        ),
    ]);
    if let Some(actor) = &notification.actor_id {
        data.insert("actor_id".into(), actor.clone());
    }
    if let Some(course) = &notification.course_id {
        data.insert("course_id".into(), course.clone());
    }
    if let Some(event) = &notification.event_id {
        data.insert("event_id".into(), event.clone());
    }
    if let Some(job) = &notification.job_id {
        data.insert("job_id".into(), job.clone());
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::Kind;
    use crate::notification::inbox::NotificationId;

    #[test]
    fn a_job_reads_back_as_the_notification_and_its_data_are_strings() {
        let notification = Notification {
            id: NotificationId::new(1_764_547_200_000, "course_liked#c1#u2"),
            user_id: "u1".into(),
            kind: Kind::CourseLiked,
            title: "Han River 10K".into(),
            body: "Minji liked your course".into(),
            actor_id: Some("u2".into()),
            course_id: Some("c1".into()),
            event_id: None,
            job_id: None,
            read: false,
        };
        let message = message(&notification).expect("json");
        assert_eq!(read(&message).expect("reads"), notification);
        let data = push_data(&notification);
        assert_eq!(data["type"], "course_liked");
        assert_eq!(data["course_id"], "c1");
        assert_eq!(data["notification_id"], notification.id.as_str());
        assert!(read(&serde_json::json!({"type": "course_liked"})).is_err());
    }
}
