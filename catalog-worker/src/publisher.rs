//! Publishing to RabbitMQ with publisher confirms, on a dedicated thread: amiquip is blocking
//! and runs its own I/O thread, so it stays off the async runtime. The relay hands it batches
//! and awaits the verdict; a batch counts as published only when the broker confirmed every
//! message in it.

use amiquip::{AmqpProperties, Channel, Confirm, Connection, ExchangeDeclareOptions, ExchangeType, Publish};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    pub routing_key: String,
    pub message_id: String,
    pub body: Vec<u8>,
}

struct Job {
    messages: Vec<OutgoingMessage>,
    reply: oneshot::Sender<Result<(), String>>,
}

#[derive(Clone)]
pub struct Publisher {
    jobs: Sender<Job>,
}

impl Publisher {
    /// Starts the publisher thread; it connects lazily and reconnects after any failure.
    pub fn start(url: String, exchange: String) -> Self {
        let (jobs, inbox) = crossbeam_channel::bounded::<Job>(4);
        std::thread::Builder::new()
            .name("amqp-publisher".into())
            .spawn(move || run(&url, &exchange, &inbox))
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!(error = %e, "cannot start the publisher thread"));
        Self { jobs }
    }

    /// Publishes a batch; `Ok` only once the broker confirmed all of it.
    pub async fn publish(&self, messages: Vec<OutgoingMessage>) -> Result<(), String> {
        let (reply, verdict) = oneshot::channel();
        let jobs = self.jobs.clone();
        let job = Job { messages, reply };
        // A full queue only happens while the thread is stuck reconnecting: wait off-runtime.
        tokio::task::spawn_blocking(move || jobs.send(job).map_err(|_| "publisher thread stopped".to_string()))
            .await
            .map_err(|e| e.to_string())??;
        verdict.await.map_err(|_| "publisher dropped the batch".to_string())?
    }
}

struct Session {
    // Field order matters: the channel must drop before its connection.
    channel: Channel,
    confirms: Receiver<Confirm>,
    connection: Connection,
    next_tag: u64,
}

fn connect(url: &str, exchange: &str) -> Result<Session, String> {
    let mut connection = Connection::insecure_open(url).map_err(|e| e.to_string())?;
    let channel = connection.open_channel(None).map_err(|e| e.to_string())?;
    let confirms = channel.listen_for_publisher_confirms().map_err(|e| e.to_string())?;
    channel.enable_publisher_confirms().map_err(|e| e.to_string())?;
    channel
        .exchange_declare(ExchangeType::Topic, exchange, ExchangeDeclareOptions { durable: true, ..Default::default() })
        .map_err(|e| e.to_string())?;
    Ok(Session { channel, confirms, connection, next_tag: 1 })
}

fn run(url: &str, exchange: &str, inbox: &Receiver<Job>) {
    let mut session: Option<Session> = None;
    while let Ok(job) = inbox.recv() {
        if session.is_none() {
            match connect(url, exchange) {
                Ok(s) => {
                    tracing::info!("connected to RabbitMQ for publishing");
                    session = Some(s);
                }
                Err(e) => {
                    // The relay backs off before it hands over the next batch.
                    let _ = job.reply.send(Err(format!("connect: {e}")));
                    continue;
                }
            }
        }
        let Some(active) = session.as_mut() else { continue };
        let outcome = publish_confirmed(active, exchange, &job.messages);
        if outcome.is_err() {
            // Unknown channel state after a failure: start over with a fresh connection.
            if let Some(old) = session.take() {
                let Session { channel, connection, .. } = old;
                let _ = channel.close();
                let _ = connection.close();
            }
        }
        let _ = job.reply.send(outcome);
    }
    if let Some(Session { channel, connection, .. }) = session {
        let _ = channel.close();
        let _ = connection.close();
    }
}

fn publish_confirmed(session: &mut Session, exchange: &str, messages: &[OutgoingMessage]) -> Result<(), String> {
    let first_tag = session.next_tag;
    for message in messages {
        let properties = AmqpProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(message.message_id.clone());
        session
            .channel
            .basic_publish(exchange, Publish::with_properties(&message.body, message.routing_key.clone(), properties))
            .map_err(|e| format!("publish: {e}"))?;
        session.next_tag += 1;
    }
    let last_tag = session.next_tag - 1;
    let deadline = Instant::now() + CONFIRM_TIMEOUT;
    let mut pending: std::collections::BTreeSet<u64> = (first_tag..=last_tag).collect();
    while !pending.is_empty() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let confirm = match session.confirms.recv_timeout(remaining) {
            Ok(confirm) => confirm,
            Err(RecvTimeoutError::Timeout) => return Err("broker did not confirm in time".into()),
            Err(RecvTimeoutError::Disconnected) => return Err("connection lost while waiting for confirms".into()),
        };
        let (payload, acked) = match confirm {
            Confirm::Ack(p) => (p, true),
            Confirm::Nack(p) => (p, false),
        };
        let tags: Vec<u64> = if payload.multiple {
            pending.range(..=payload.delivery_tag).copied().collect()
        } else {
            vec![payload.delivery_tag]
        };
        if !acked && tags.iter().any(|t| pending.contains(t)) {
            return Err("broker refused (nack) a message".into());
        }
        for tag in tags {
            pending.remove(&tag);
        }
    }
    Ok(())
}
