//! The worker's queues on a real RabbitMQ: quorum by default (what a cluster replicates), with the
//! broker counting deliveries; a queue that already exists with another type is reported by name
//! before any consumer starts, not retried forever.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use amiquip::{Connection, ConsumerMessage, ConsumerOptions, Publish, QueueDeclareOptions, QueueDeleteOptions};
use catalog_core::config::{QueueType, Settings};
use catalog_worker::topology::{self, Topology, TopologyError};
use std::time::{Duration, Instant};

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// A topology of its own (queue names prefixed by a fresh tag), deleted when dropped.
struct Queues(Topology);

impl Queues {
    fn new(extra: &[(&str, &str)]) -> Self {
        let tag = uuid::Uuid::now_v7().simple().to_string();
        let env =
            [("RABBITMQ_QUEUE_PREFIX", format!("q{tag}.")), ("RABBITMQ_EXCHANGE", format!("q{tag}.catalog_events"))]
                .into_iter()
                .chain(extra.iter().map(|(k, v)| (*k, (*v).to_string())))
                .map(|(k, v)| (k.to_string(), v));
        Self(Topology::new(&Settings::from_env(env).expect("settings").rabbitmq))
    }
}

impl Drop for Queues {
    fn drop(&mut self) {
        if let Ok(mut conn) = Connection::insecure_open(AMQP) {
            if let Ok(channel) = conn.open_channel(None) {
                for (queue, ..) in self.0.consumers() {
                    let _ = channel.queue_delete(queue, QueueDeleteOptions::default());
                }
                let _ = channel.queue_delete(self.0.dead_letter_queue.as_str(), QueueDeleteOptions::default());
                for exchange in [&self.0.catalog_exchange, &self.0.auth_exchange, &self.0.pricing_exchange] {
                    let _ = channel.exchange_delete(exchange.as_str(), Default::default());
                }
                let _ = channel.exchange_delete(self.0.inventory_exchange.as_str(), Default::default());
                let _ = channel.exchange_delete(self.0.dead_letter_exchange.as_str(), Default::default());
            }
            let _ = conn.close();
        }
    }
}

/// Whether `queue` exists as the classic queue `topology` would declare: the broker refuses
/// a declaration whose type or arguments differ from the existing queue's.
fn is_classic(topology: &Topology, queue: &str) -> bool {
    let classic = Topology { queue_type: QueueType::Classic, ..topology.clone() };
    let arguments = if queue == topology.dead_letter_queue {
        classic.dead_letter_queue_arguments()
    } else {
        classic.consumed_queue_arguments()
    };
    let mut conn = Connection::insecure_open(AMQP).unwrap();
    let channel = conn.open_channel(None).unwrap();
    let accepted = channel.queue_declare(queue, QueueDeclareOptions { durable: true, arguments, ..Default::default() });
    let _ = conn.close();
    match accepted {
        Ok(_) => true,
        Err(amiquip::Error::ServerClosedChannel { code: 406, .. }) => false,
        Err(e) => panic!("declare {queue}: {e}"),
    }
}

#[test]
fn the_worker_s_queues_and_its_dead_letter_queue_are_quorum_queues_by_default() {
    let queues = Queues::new(&[]);
    assert_eq!(queues.0.queue_type, QueueType::Quorum);
    topology::verify(AMQP, &queues.0).expect("a fresh broker takes the topology");
    for (queue, ..) in queues.0.consumers() {
        assert!(!is_classic(&queues.0, &queue), "{queue} is a quorum queue");
    }
    assert!(!is_classic(&queues.0, &queues.0.dead_letter_queue), "the DLQ is a quorum queue");
    // Declaring again as configured is accepted: start-up after start-up.
    topology::verify(AMQP, &queues.0).expect("the same topology again");
}

#[test]
fn classic_queues_remain_for_single_node_development() {
    let queues = Queues::new(&[("RABBITMQ_QUEUE_TYPE", "classic")]);
    topology::verify(AMQP, &queues.0).expect("classic topology");
    assert!(is_classic(&queues.0, &queues.0.auth_queue));
    assert!(is_classic(&queues.0, &queues.0.dead_letter_queue));
}

#[test]
fn an_existing_classic_queue_is_reported_by_name_instead_of_redeclared() {
    let classic = Queues::new(&[("RABBITMQ_QUEUE_TYPE", "classic")]);
    topology::verify(AMQP, &classic.0).expect("classic topology");
    // The same names, now configured as quorum queues.
    let mut quorum = classic.0.clone();
    quorum.queue_type = QueueType::Quorum;
    match topology::verify(AMQP, &quorum) {
        Err(TopologyError::Mismatch { queue, wanted, broker }) => {
            assert_eq!(wanted, QueueType::Quorum);
            assert!(queue == classic.0.dead_letter_queue || queue == classic.0.auth_queue, "names the queue: {queue}");
            assert!(broker.contains("x-queue-type"), "says what differs: {broker}");
            let message = TopologyError::Mismatch { queue: queue.clone(), wanted, broker }.to_string();
            assert!(message.contains(&queue) && message.contains("RABBITMQ_QUEUE_TYPE"), "{message}");
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    // Nothing was changed: the classic queues are still there as they were.
    assert!(is_classic(&classic.0, &classic.0.auth_queue));
}

/// What no retry inside the process can count: a consumer that dies handling a message (the
/// connection closes unacknowledged) again and again. The broker dead-letters it after the limit.
#[test]
fn a_message_whose_consumer_keeps_dying_is_dead_lettered_by_the_broker() {
    let queues = Queues::new(&[("RABBITMQ_DELIVERY_LIMIT", "2")]);
    topology::verify(AMQP, &queues.0).expect("topology");
    let queue = queues.0.auth_queue.clone();
    {
        let mut conn = Connection::insecure_open(AMQP).unwrap();
        let channel = conn.open_channel(None).unwrap();
        channel
            .basic_publish(queues.0.auth_exchange.as_str(), Publish::new(b"crashes its consumer", "auth.local.created"))
            .unwrap();
        conn.close().unwrap();
    }
    let dead_letters = |conn: &mut Connection| {
        let channel = conn.open_channel(None).unwrap();
        channel.queue_declare_passive(queues.0.dead_letter_queue.as_str()).unwrap().declared_message_count().unwrap()
    };
    let mut deliveries = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut conn = Connection::insecure_open(AMQP).unwrap();
        if dead_letters(&mut conn) == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "not dead-lettered after {deliveries} deliveries");
        let channel = conn.open_channel(None).unwrap();
        let consumer = channel.basic_consume(queue.as_str(), ConsumerOptions::default()).unwrap();
        if let Ok(ConsumerMessage::Delivery(_)) = consumer.receiver().recv_timeout(Duration::from_millis(500)) {
            deliveries += 1;
        }
        // The consumer "dies": its connection closes with the delivery unacknowledged.
        drop(consumer);
        let _ = conn.close();
    }
    assert_eq!(deliveries, 3, "delivered up to the limit (2) and once more before the broker gave up");
}
