//! Publishing to RabbitMQ with publisher confirms, on a dedicated thread: amiquip is blocking
//! and runs its own I/O thread, so it stays off the async runtime. The relay hands it batches
//! and awaits the verdict; a batch counts as published only when the broker confirmed every
//! message in it. Batches are pipelined: the thread writes the next batch's messages while the
//! broker still confirms the previous one, in the order they were handed over.

use amiquip::{
    AmqpProperties, AmqpValue, Channel, Confirm, Connection, ExchangeDeclareOptions, ExchangeType, FieldTable, Publish,
};
use crossbeam_channel::{Receiver, Sender};
use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    pub routing_key: String,
    pub message_id: String,
    pub body: Vec<u8>,
    /// AMQP headers: the W3C trace context (`traceparent`, `tracestate`).
    pub headers: Vec<(&'static str, String)>,
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
        self.hand_over(messages).await?.confirmed().await
    }

    /// Queues a batch behind those handed over before it and returns its verdict, to await
    /// while the next batch is prepared.
    pub async fn hand_over(&self, messages: Vec<OutgoingMessage>) -> Result<Verdict, String> {
        let (reply, verdict) = oneshot::channel();
        let jobs = self.jobs.clone();
        let job = Job { messages, reply };
        // A full queue only happens while the thread is stuck reconnecting: wait off-runtime.
        tokio::task::spawn_blocking(move || jobs.send(job).map_err(|_| "publisher thread stopped".to_string()))
            .await
            .map_err(|e| e.to_string())??;
        Ok(Verdict(verdict))
    }
}

/// The broker's answer on one handed-over batch.
pub struct Verdict(oneshot::Receiver<Result<(), String>>);

impl Verdict {
    /// `Ok` once the broker confirmed every message of the batch.
    pub async fn confirmed(self) -> Result<(), String> {
        self.0.await.map_err(|_| "publisher dropped the batch".to_string())?
    }
}

struct Session {
    // Field order matters: the channel must drop before its connection.
    channel: Channel,
    confirms: Receiver<Confirm>,
    connection: Connection,
    next_tag: u64,
    acks: Acks,
}

/// The channel's acknowledged delivery tags: every tag up to `through`, and single acks that
/// arrived before an earlier tag's.
#[derive(Default)]
struct Acks {
    through: u64,
    ahead: BTreeSet<u64>,
}

impl Acks {
    /// Records an ack (`multiple`: of every tag up to `tag`); returns the highest tag up to which
    /// all are acknowledged.
    fn record(&mut self, tag: u64, multiple: bool) -> u64 {
        if multiple {
            self.through = self.through.max(tag);
            self.ahead = self.ahead.split_off(&(self.through + 1));
        } else if tag > self.through {
            self.ahead.insert(tag);
        }
        while self.ahead.remove(&(self.through + 1)) {
            self.through += 1;
        }
        self.through
    }
}

fn connect(url: &str, exchange: &str) -> Result<Session, String> {
    let mut connection = Connection::insecure_open(url).map_err(|e| e.to_string())?;
    let channel = connection.open_channel(None).map_err(|e| e.to_string())?;
    let confirms = channel.listen_for_publisher_confirms().map_err(|e| e.to_string())?;
    channel.enable_publisher_confirms().map_err(|e| e.to_string())?;
    channel
        .exchange_declare(ExchangeType::Topic, exchange, ExchangeDeclareOptions { durable: true, ..Default::default() })
        .map_err(|e| e.to_string())?;
    Ok(Session { channel, confirms, connection, next_tag: 1, acks: Acks::default() })
}

/// A batch written to the channel whose confirms are still due.
struct Unconfirmed {
    last_tag: u64,
    deadline: Instant,
    reply: oneshot::Sender<Result<(), String>>,
}

fn run(url: &str, exchange: &str, inbox: &Receiver<Job>) {
    let mut session: Option<Session> = None;
    // In delivery-tag order: the broker confirms a channel's messages in any grouping, but a
    // batch is settled only when every tag up to its last one is.
    let mut unconfirmed: VecDeque<Unconfirmed> = VecDeque::new();
    loop {
        let Some(active) = session.as_mut().filter(|_| !unconfirmed.is_empty()) else {
            // Nothing awaits confirms: wait for the next batch.
            let Ok(job) = inbox.recv() else { break };
            accept(url, exchange, &mut session, &mut unconfirmed, job);
            continue;
        };
        let confirms = active.confirms.clone();
        let wait =
            unconfirmed.front().map_or(CONFIRM_TIMEOUT, |u| u.deadline.saturating_duration_since(Instant::now()));
        crossbeam_channel::select! {
            recv(inbox) -> job => match job {
                Ok(job) => accept(url, exchange, &mut session, &mut unconfirmed, job),
                Err(_) => break,
            },
            recv(confirms) -> confirm => match confirm {
                Ok(Confirm::Ack(payload)) => {
                    let confirmed = active.acks.record(payload.delivery_tag, payload.multiple);
                    while unconfirmed.front().is_some_and(|u| u.last_tag <= confirmed) {
                        if let Some(done) = unconfirmed.pop_front() {
                            let _ = done.reply.send(Ok(()));
                        }
                    }
                }
                Ok(Confirm::Nack(_)) => fail_all(&mut session, &mut unconfirmed, "broker refused (nack) a message"),
                Err(_) => fail_all(&mut session, &mut unconfirmed, "connection lost while waiting for confirms"),
            },
            default(wait) => fail_all(&mut session, &mut unconfirmed, "broker did not confirm in time"),
        }
    }
    fail_all(&mut session, &mut unconfirmed, "publisher stopped");
}

/// Writes a batch to the channel (connecting first if needed) and queues it for its confirms.
fn accept(url: &str, exchange: &str, session: &mut Option<Session>, unconfirmed: &mut VecDeque<Unconfirmed>, job: Job) {
    if session.is_none() {
        match connect(url, exchange) {
            Ok(s) => {
                tracing::info!("connected to RabbitMQ for publishing");
                *session = Some(s);
            }
            Err(e) => {
                // The relay backs off before it hands over the next batch.
                let _ = job.reply.send(Err(format!("connect: {e}")));
                return;
            }
        }
    }
    let Some(active) = session.as_mut() else { return };
    match write_batch(active, exchange, &job.messages) {
        Ok(()) if job.messages.is_empty() => {
            let _ = job.reply.send(Ok(()));
        }
        Ok(()) => unconfirmed.push_back(Unconfirmed {
            last_tag: active.next_tag - 1,
            deadline: Instant::now() + CONFIRM_TIMEOUT,
            reply: job.reply,
        }),
        Err(e) => {
            let _ = job.reply.send(Err(e.clone()));
            fail_all(session, unconfirmed, &e);
        }
    }
}

/// After any failure the channel's state is unknown: every batch awaiting confirms fails (the
/// relay leaves its rows unpublished for the next attempt) and the next batch reconnects.
fn fail_all(session: &mut Option<Session>, unconfirmed: &mut VecDeque<Unconfirmed>, error: &str) {
    for pending in unconfirmed.drain(..) {
        let _ = pending.reply.send(Err(error.to_string()));
    }
    if let Some(Session { channel, connection, .. }) = session.take() {
        let _ = channel.close();
        let _ = connection.close();
    }
}

fn write_batch(session: &mut Session, exchange: &str, messages: &[OutgoingMessage]) -> Result<(), String> {
    for message in messages {
        let mut properties = AmqpProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(message.message_id.clone());
        if !message.headers.is_empty() {
            let headers: FieldTable = message
                .headers
                .iter()
                .map(|(name, value)| ((*name).to_string(), AmqpValue::LongString(value.clone())))
                .collect();
            properties = properties.with_headers(headers);
        }
        session
            .channel
            .basic_publish(exchange, Publish::with_properties(&message.body, message.routing_key.clone(), properties))
            .map_err(|e| format!("publish: {e}"))?;
        session.next_tag += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Acks;

    #[test]
    fn a_batch_is_confirmed_only_when_every_earlier_tag_is() {
        let mut acks = Acks::default();
        assert_eq!(acks.record(2, false), 0, "tag 1 still unconfirmed");
        assert_eq!(acks.record(3, false), 0);
        assert_eq!(acks.record(1, false), 3, "1 fills the gap before 2 and 3");
        assert_eq!(acks.record(5, true), 5, "multiple acks everything up to 5");
        assert_eq!(acks.record(7, false), 5);
        assert_eq!(acks.record(6, true), 7, "a multiple ack up to 6 joins the earlier single ack of 7");
        assert_eq!(acks.record(4, false), 7, "an old tag changes nothing");
    }
}
