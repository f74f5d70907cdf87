//! A loopback TCP relay between a started binary and DynamoDB Local that times the table's
//! answers: from the last byte of a request to the first byte of its answer. A cold
//! request's figure mixes the binary's own work with the stand-in's, and DynamoDB Local's
//! answer moves by milliseconds with the operation (a Query on an index against a GetItem
//! that finds nothing) and from start to start; subtracting it shows what the binary itself
//! spent. The relay adds a loopback hop each way, and needs the CPU the start and the table
//! share: on a small machine it lengthens every start, so starts timed through it compare
//! with each other only (infra/scripts/bench runs them in a pass of their own).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// What the relay saw of one binary's exchanges with the table.
#[derive(Debug, Default)]
struct Exchanges {
    /// When the client last sent bytes that the table has not answered yet.
    asked_at: Option<Instant>,
    /// The table's answers so far: last request byte → first answer byte, summed.
    answering: Duration,
}

/// A started relay: point the binary's `DYNAMODB_ENDPOINT` at [`TableTimer::endpoint`].
pub struct TableTimer {
    address: SocketAddr,
    exchanges: Arc<Mutex<Exchanges>>,
    accept: tokio::task::JoinHandle<()>,
}

impl TableTimer {
    /// Listens on 127.0.0.1 and relays every connection to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Result<Self, String> {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("the table relay cannot listen: {e}"))?;
        let address = listener
            .local_addr()
            .map_err(|e| format!("the table relay has no address: {e}"))?;
        let exchanges = Arc::new(Mutex::new(Exchanges::default()));
        let shared = exchanges.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(table) = TcpStream::connect(&upstream).await else {
                    continue; // the binary sees its connection close, as with the table down
                };
                tokio::spawn(relay(client, table, shared.clone()));
            }
        });
        Ok(Self {
            address,
            exchanges,
            accept,
        })
    }

    /// The endpoint URL to hand the binary.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The table's answering time so far, and starts counting again from zero.
    pub fn take(&self) -> Duration {
        std::mem::take(&mut *lock(&self.exchanges)).answering
    }
}

impl Drop for TableTimer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The exchanges, even if a relay task panicked while holding them (a bench figure, not
/// state to protect).
fn lock(exchanges: &Mutex<Exchanges>) -> std::sync::MutexGuard<'_, Exchanges> {
    exchanges.lock().unwrap_or_else(|e| e.into_inner())
}

/// Copies both ways until either side closes: a request's bytes mark when the table was
/// asked, and the first bytes of the answer after them add the wait to the total.
async fn relay(client: TcpStream, table: TcpStream, exchanges: Arc<Mutex<Exchanges>>) {
    let _ = client.set_nodelay(true);
    let _ = table.set_nodelay(true);
    let (from_client, to_client) = client.into_split();
    let (from_table, to_table) = table.into_split();
    let asking = exchanges.clone();
    tokio::join!(
        pump(from_client, to_table, move |now| lock(&asking).asked_at =
            Some(now)),
        pump(from_table, to_client, move |now| {
            let mut seen = lock(&exchanges);
            if let Some(asked) = seen.asked_at.take() {
                seen.answering += now.duration_since(asked);
            }
        }),
    );
}

/// Copies one direction until either side closes, telling `arrived` when each chunk came.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut arrived: impl FnMut(Instant)) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        arrived(Instant::now());
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table that waits `delay` after each request before answering it.
    async fn slow_echo(delay: Duration) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n @ 1..) = socket.read(&mut buf).await {
                        tokio::time::sleep(delay).await;
                        if socket.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn the_relay_passes_bytes_through_and_counts_only_the_tables_answering_time() {
        // given a table that takes 30 ms to answer, behind the relay
        let timer = TableTimer::start(&slow_echo(Duration::from_millis(30)).await)
            .await
            .expect("relay");
        let mut client = TcpStream::connect(timer.endpoint().trim_start_matches("http://"))
            .await
            .expect("connect");
        // when a client asks twice, idling 50 ms between the answer and its next question
        let mut answer = [0u8; 5];
        for question in [b"ping1", b"ping2"] {
            client.write_all(question).await.expect("write");
            client.read_exact(&mut answer).await.expect("read");
            assert_eq!(&answer, question, "the bytes pass unchanged");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // then the table's time is the two answers' (2 × 30 ms), not the client's idling
        let answering = timer.take();
        assert!(
            answering >= Duration::from_millis(60) && answering < Duration::from_millis(100),
            "{answering:?}"
        );
        // and taking it starts the count again
        assert_eq!(timer.take(), Duration::ZERO);
    }
}
