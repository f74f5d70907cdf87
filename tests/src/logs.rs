//! Log lines captured on one test's thread, as the functions write them (one JSON object a
//! line, [`JsonLine`]).
//!
//! The workspace tests run in one process, on parallel threads (`tests/tests/main.rs`), so a
//! capture is a subscriber scoped to the test's thread (`set_default`): a global one would
//! also catch the lines of every other test. A scoped subscriber alone is not reliable in a
//! busy process, though: tracing-core caches, per log statement, whether any subscriber
//! wants it, and while exactly one `Dispatch` is registered it asks only the subscriber of
//! the thread that reaches the statement first. A test on another thread, with no
//! subscriber, reaching the `audit` line first would switch that line off for the whole
//! process, the capture included (tokio-rs/tracing#3611 and #2874). [`capture`] therefore
//! keeps two inert dispatchers registered for the life of the process: with more than one,
//! tracing-core always asks every live subscriber, under its lock, whichever thread comes
//! first.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use runcrew_shared::telemetry::JsonLine;
use serde_json::Value;
use tracing::Dispatch;
use tracing::subscriber::{DefaultGuard, NoSubscriber};

/// The log lines written on this thread while it lives; logging returns to what it was when
/// it is dropped.
pub struct Captured {
    buffer: Buffer,
    _scope: DefaultGuard,
}

impl Captured {
    /// Every line captured so far that is a JSON object.
    pub fn lines(&self) -> Vec<Value> {
        let bytes = self.buffer.0.lock().expect("lock").clone();
        String::from_utf8(bytes)
            .expect("utf-8")
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// Captures what the current thread logs at `info` and above, formatted as the functions
/// format it, until the returned value is dropped. Tests using it run on one thread (a plain
/// `#[tokio::test]`), so everything their code logs is logged on that thread.
pub fn capture() -> Captured {
    // Never dropped: see the module documentation.
    static INERT: OnceLock<[Dispatch; 2]> = OnceLock::new();
    INERT.get_or_init(|| {
        [
            Dispatch::new(NoSubscriber::new()),
            Dispatch::new(NoSubscriber::new()),
        ]
    });
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .event_format(JsonLine)
        .with_writer(move || writer.clone())
        .finish();
    Captured {
        buffer,
        _scope: tracing::subscriber::set_default(subscriber),
    }
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
