//! The event envelope, typed events and event ids.
//!
//! An [`Event`] is what the bus moves: an id, a topic, an idempotency key, a JSON payload and
//! the unix time it was published on the bus's clock. It is a reference-counted handle, so
//! fan-out to many subscribers clones a pointer, never the payload.
//!
//! A publisher builds a [`NewEvent`] (from any serde value with [`NewEvent::json`], or from a
//! [`TypedEvent`] with [`NewEvent::typed`]); the bus validates it, gives it an id and a
//! timestamp, and turns it into an [`Event`]. The key defaults to `topic:domain id`, so two
//! publishes about the same job are duplicates of each other whatever their ids.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::sync::{AtomicU64, Ordering};

/// An error building, validating or decoding an event.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The topic was empty.
    #[error("event topic is empty")]
    EmptyTopic,
    /// The idempotency key was empty.
    #[error("event key is empty")]
    EmptyKey,
    /// The payload was larger than the bus accepts.
    #[error("payload is {size_bytes} bytes, over the limit of {limit_bytes}")]
    PayloadTooLarge {
        /// The payload's size.
        size_bytes: usize,
        /// The bus's limit.
        limit_bytes: usize,
    },
    /// The payload could not be encoded as JSON.
    #[error("payload could not be encoded as json: {0}")]
    Encode(#[source] serde_json::Error),
    /// The payload could not be decoded into the requested type.
    #[error("payload of {topic} event could not be decoded: {source}")]
    Decode {
        /// The event's topic.
        topic: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
}

/// A serde type that is published as an event of one topic.
///
/// ```
/// use eventgate::TypedEvent;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct InvoicePaid { invoice: u64 }
///
/// impl TypedEvent for InvoicePaid {
///     const TOPIC: &'static str = "invoice_paid";
///     fn domain_id(&self) -> String { self.invoice.to_string() }
/// }
///
/// let event = eventgate::NewEvent::typed(&InvoicePaid { invoice: 7 }).unwrap();
/// assert_eq!(event.key(), "invoice_paid:7");
/// ```
pub trait TypedEvent: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The topic every value of this type is published on.
    const TOPIC: &'static str;

    /// The id of the domain object the event is about (a job id, an invoice number).
    fn domain_id(&self) -> String;

    /// The idempotency key; by default `TOPIC:domain id`.
    fn event_key(&self) -> String {
        default_key(Self::TOPIC, &self.domain_id())
    }
}

/// The default idempotency key of an event about `domain_id` on `topic`.
pub fn default_key(topic: &str, domain_id: &str) -> String {
    format!("{topic}:{domain_id}")
}

/// An event before publication: topic, key and encoded payload.
#[derive(Debug, Clone)]
pub struct NewEvent {
    topic: Arc<str>,
    key: Arc<str>,
    payload: Arc<str>,
}

impl NewEvent {
    /// An event with an explicit topic and key, whose payload is `value` encoded as JSON.
    pub fn json<T: Serialize + ?Sized>(
        topic: impl Into<String>,
        key: impl Into<String>,
        value: &T,
    ) -> Result<Self, EventError> {
        let payload = serde_json::to_string(value).map_err(EventError::Encode)?;
        Ok(Self::raw(topic, key, payload))
    }

    /// An event of a [`TypedEvent`], on its topic and with its key.
    pub fn typed<T: TypedEvent>(value: &T) -> Result<Self, EventError> {
        Self::json(T::TOPIC, value.event_key(), value)
    }

    /// An event whose payload is already JSON text. The text is not parsed again.
    pub fn raw(topic: impl Into<String>, key: impl Into<String>, payload: String) -> Self {
        Self {
            topic: Arc::from(topic.into()),
            key: Arc::from(key.into()),
            payload: Arc::from(payload),
        }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The idempotency key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The payload as JSON text.
    pub fn payload(&self) -> &str {
        &self.payload
    }

    /// Checks the event against the bus's rules: a topic, a key, a payload within the limit.
    pub fn validate(&self, payload_limit_bytes: usize) -> Result<(), EventError> {
        if self.topic.is_empty() {
            return Err(EventError::EmptyTopic);
        }
        if self.key.is_empty() {
            return Err(EventError::EmptyKey);
        }
        let size_bytes = self.payload.len();
        if size_bytes > payload_limit_bytes {
            return Err(EventError::PayloadTooLarge {
                size_bytes,
                limit_bytes: payload_limit_bytes,
            });
        }
        Ok(())
    }

    /// Turns the draft into a published event with `id`, stamped at `published_at_unix_ms`,
    /// in `spare`'s allocation when one is given (see [`SpareEvent`]).
    pub(crate) fn into_event(
        self,
        id: EventId,
        published_at_unix_ms: u64,
        spare: Option<SpareEvent>,
    ) -> Event {
        let inner = EventInner {
            id,
            body: Some(self),
            fingerprint: OnceLock::new(),
            published_at_unix_ms,
        };
        if let Some(SpareEvent(mut allocation)) = spare {
            if let Some(slot) = Arc::get_mut(&mut allocation) {
                *slot = inner;
                return Event(allocation);
            }
        }
        Event(Arc::new(inner))
    }
}

/// The allocation of an event nobody holds any more, emptied of its topic, key and payload,
/// kept so the next publish can reuse it instead of allocating (see `bus::recycler`).
pub(crate) struct SpareEvent(Arc<EventInner>);

/// A published event: a cheap, shared handle.
#[derive(Clone)]
pub struct Event(Arc<EventInner>);

struct EventInner {
    id: EventId,
    /// The validated draft. `None` only while the allocation is a [`SpareEvent`], which is
    /// never reachable through an [`Event`].
    body: Option<NewEvent>,
    /// Computed on first use: only gated subscribers read it, and most events have none.
    fingerprint: OnceLock<u64>,
    published_at_unix_ms: u64,
}

impl Event {
    /// The event's unique id; the webhook subscriber sends it as `webhook-id`.
    pub fn id(&self) -> &EventId {
        &self.0.id
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        self.body().topic()
    }

    /// The idempotency key.
    pub fn key(&self) -> &str {
        self.body().key()
    }

    /// The payload as JSON text.
    pub fn payload(&self) -> &str {
        self.body().payload()
    }

    fn body(&self) -> &NewEvent {
        self.0
            .body
            .as_ref()
            .expect("an event's body is only taken once its last handle is gone")
    }

    /// This event's allocation, emptied, when this is its last handle; its topic, key and
    /// payload are released here.
    pub(crate) fn into_spare(self) -> Option<SpareEvent> {
        // A plain read first: when other subscribers still hold the event (fan-out), this
        // leaves its counters' cache line unwritten, where `get_mut` alone would write it.
        if Arc::strong_count(&self.0) != 1 {
            return None;
        }
        let mut allocation = self.0;
        Arc::get_mut(&mut allocation)?.body = None;
        Some(SpareEvent(allocation))
    }

    /// A stable 64-bit hash of the payload bytes, used to detect a key reused for another
    /// payload.
    pub fn fingerprint(&self) -> u64 {
        *self
            .0
            .fingerprint
            .get_or_init(|| fingerprint(self.payload().as_bytes()))
    }

    /// When the event was published, in unix milliseconds on the bus's clock.
    pub fn published_at_unix_ms(&self) -> u64 {
        self.0.published_at_unix_ms
    }

    /// Decodes the payload into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, EventError> {
        serde_json::from_str(self.payload()).map_err(|source| EventError::Decode {
            topic: self.topic().to_owned(),
            source,
        })
    }

    /// Where the event's allocation lives, to check that one was reused.
    #[cfg(test)]
    pub(crate) fn allocation_address(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// True when both handles point at the same published event (not a copy).
    pub fn same_allocation(&self, other: &Event) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("id", &self.0.id)
            .field("topic", &self.topic())
            .field("key", &self.key())
            .field("payload_bytes", &self.payload().len())
            .finish()
    }
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut event = serializer.serialize_struct("Event", 4)?;
        event.serialize_field("id", &self.0.id)?;
        event.serialize_field("topic", self.topic())?;
        event.serialize_field("key", self.key())?;
        event.serialize_field("published_at_unix_ms", &self.0.published_at_unix_ms)?;
        event.end()
    }
}

/// A stable, fast 64-bit hash of a payload, for the gate's fingerprints.
///
/// Four lanes each take eight bytes of every 32-byte block, so the CPU runs their
/// multiply-rotate chains side by side (a single chain makes each step wait on the one
/// before). The lanes are then folded together with the remaining bytes and a final mix.
///
/// std's `DefaultHasher` is not promised to stay the same across Rust releases, and a
/// fingerprint stored in a shared gate must mean the same thing to every process reading it.
/// Changing this function changes every stored fingerprint: records written by the old one
/// read as conflicts until their TTL runs out.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    let len = bytes.len() as u64;
    let mut lanes = LANE_SEEDS.map(|seed| seed ^ len);
    let mut blocks = bytes.chunks_exact(8 * LANE_SEEDS.len());
    for block in &mut blocks {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            *lane = hash_step(*lane, le_word(word));
        }
    }
    chain_hash(lanes.into_iter().fold(len, hash_step), blocks.remainder())
}

/// Continues one multiply-rotate chain from `hash` over `bytes`, eight bytes a step with the
/// last word zero-padded (an empty one included), then folds the high bits down: the tail of
/// [`fingerprint`], and the whole of the simulator's name hash.
pub(crate) fn chain_hash(hash: u64, bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    let mut hash = words
        .by_ref()
        .fold(hash, |hash, word| hash_step(hash, le_word(word)));
    hash = hash_step(hash, le_word(words.remainder()));
    hash ^ (hash >> 29)
}

/// Where each of [`fingerprint`]'s lanes starts (then mixed with the length): digits of pi,
/// so that equal words in different lanes do not cancel out.
const LANE_SEEDS: [u64; 4] = [
    0x243F_6A88_85A3_08D3,
    0x1319_8A2E_0370_7344,
    0xA409_3822_299F_31D0,
    0x082E_FA98_EC4E_6C89,
];

/// One multiply-rotate step of [`fingerprint`].
fn hash_step(hash: u64, word: u64) -> u64 {
    const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;
    (hash.rotate_left(23) ^ word).wrapping_mul(MULTIPLIER)
}

/// Up to eight bytes as a little-endian word, zero-padded.
fn le_word(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

/// A unique event id: `evt_` then a per-process prefix and a sequence number, in hex.
///
/// The id is made on every publish, so it is kept inline (no allocation, no formatting
/// machinery): the text is written digit by digit into a fixed buffer. Only an id read back
/// from elsewhere that is longer than the buffer is kept behind an `Arc`. Comparison, hashing,
/// `Display` and serde all go through the text, so an id is the same value whichever way it
/// was made.
#[derive(Clone)]
pub struct EventId(IdText);

/// Room for `evt_`, 16 hex digits of prefix and up to 16 of sequence.
const ID_INLINE_BYTES: usize = 36;

#[derive(Clone)]
enum IdText {
    /// Text of at most [`ID_INLINE_BYTES`] bytes; the bytes past `len` are zero.
    Inline {
        len: u8,
        bytes: [u8; ID_INLINE_BYTES],
    },
    /// Longer text.
    Shared(Arc<str>),
}

impl EventId {
    /// Wraps an existing id (one read back from a history or a webhook body).
    pub fn from_string(id: String) -> Self {
        Self::from_text(&id).unwrap_or_else(|| Self(IdText::Shared(Arc::from(id))))
    }

    /// The id for `sequence` after `head` (see [`id_head`]): `evt_{prefix:016x}{sequence:08x}`.
    fn generated(head: &[u8; ID_HEAD_BYTES], sequence: u64) -> Self {
        let mut bytes = [0u8; ID_INLINE_BYTES];
        bytes[..ID_HEAD_BYTES].copy_from_slice(head);
        let len = ID_HEAD_BYTES + write_hex(&mut bytes[ID_HEAD_BYTES..], sequence, 8);
        debug_assert!(len <= ID_INLINE_BYTES, "a generated id fits inline");
        Self(IdText::Inline {
            len: len as u8,
            bytes,
        })
    }

    /// `text` kept inline, when it fits.
    fn from_text(text: &str) -> Option<Self> {
        let mut bytes = [0u8; ID_INLINE_BYTES];
        bytes
            .get_mut(..text.len())?
            .copy_from_slice(text.as_bytes());
        let len = u8::try_from(text.len()).ok()?;
        Some(Self(IdText::Inline { len, bytes }))
    }

    /// The id's text as bytes.
    fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            IdText::Inline { len, bytes } => &bytes[..usize::from(*len)],
            IdText::Shared(text) => text.as_bytes(),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Inline bytes are always copied from a `str` or written as ASCII hex digits.
            IdText::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            IdText::Shared(text) => text,
        }
    }
}

/// The length of `evt_` and a prefix in 16 hex digits.
const ID_HEAD_BYTES: usize = 20;

/// `evt_` and `prefix` in 16 hex digits: the part of an id that one source never changes.
fn id_head(prefix: u64) -> [u8; ID_HEAD_BYTES] {
    let mut head = [0u8; ID_HEAD_BYTES];
    head[..4].copy_from_slice(b"evt_");
    let digits = write_hex(&mut head[4..], prefix, 16);
    debug_assert_eq!(4 + digits, ID_HEAD_BYTES, "a prefix is 16 hex digits");
    head
}

/// Writes `value` in lowercase hex, at least `digits_min` digits with leading zeros, at the
/// start of `out`; returns how many digits it wrote (at most 16).
fn write_hex(out: &mut [u8], value: u64, digits_min: usize) -> usize {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let significant = (64 - value.leading_zeros() as usize).div_ceil(4);
    let digits = significant.max(digits_min).min(16);
    let mut rest = value;
    // From the last digit back, one nibble a step: no shift amount to compute or bound.
    for slot in out[..digits].iter_mut().rev() {
        *slot = DIGITS[(rest & 0xf) as usize];
        rest >>= 4;
    }
    digits
}

impl PartialEq for EventId {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for EventId {}

impl PartialOrd for EventId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EventId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Byte order is `str` order; comparing bytes skips checking UTF-8 on every comparison
        // (ids are map keys in the simulation's history and checkers).
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl std::hash::Hash for EventId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from_string)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for EventIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = std::str::from_utf8(&self.head).unwrap_or_default();
        f.debug_struct("EventIds")
            .field("head", &head)
            .field("next", &self.next)
            .finish()
    }
}

/// Hands out event ids that stay unique across a process restart.
///
/// Each source has a 64-bit prefix drawn at creation (from the operating system in
/// production, from the run's seeded generator in a simulation) and a counter. A counter
/// alone would start again at zero after a restart and reuse webhook ids.
pub struct EventIds {
    /// `evt_` and the prefix, written once.
    head: [u8; ID_HEAD_BYTES],
    next: AtomicU64,
}

impl EventIds {
    /// A source with a prefix from the operating system's random generator.
    pub fn random() -> Self {
        Self::with_prefix(rand::random())
    }

    /// A source with a prefix drawn from `rng` (a simulation's seeded generator).
    pub fn seeded(rng: &mut impl rand::RngCore) -> Self {
        Self::with_prefix(rng.next_u64())
    }

    /// A source with a fixed prefix.
    pub fn with_prefix(prefix: u64) -> Self {
        Self {
            head: id_head(prefix),
            next: AtomicU64::new(0),
        }
    }

    /// The next id.
    pub fn next_id(&self) -> EventId {
        let sequence = self.next.fetch_add(1, Ordering::Relaxed);
        EventId::generated(&self.head, sequence)
    }
}

#[cfg(all(test, not(eventgate_loom)))]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Shipped {
        order: u32,
    }

    impl TypedEvent for Shipped {
        const TOPIC: &'static str = "shipped";
        fn domain_id(&self) -> String {
            self.order.to_string()
        }
    }

    #[test]
    fn typed_event_key_is_topic_and_domain_id() {
        let draft = NewEvent::typed(&Shipped { order: 9 }).unwrap();
        assert_eq!(draft.topic(), "shipped");
        assert_eq!(draft.key(), "shipped:9");
        assert_eq!(draft.payload(), r#"{"order":9}"#);
    }

    #[test]
    fn published_event_decodes_back_to_its_type() {
        let ids = EventIds::with_prefix(1);
        let event =
            NewEvent::typed(&Shipped { order: 3 })
                .unwrap()
                .into_event(ids.next_id(), 5, None);
        assert_eq!(event.decode::<Shipped>().unwrap(), Shipped { order: 3 });
        assert!(event.decode::<Vec<u8>>().is_err());
    }

    #[test]
    fn validation_refuses_empty_topic_empty_key_and_oversized_payload() {
        let empty_topic = NewEvent::raw("", "k", "1".into());
        assert!(matches!(
            empty_topic.validate(10),
            Err(EventError::EmptyTopic)
        ));
        let empty_key = NewEvent::raw("t", "", "1".into());
        assert!(matches!(empty_key.validate(10), Err(EventError::EmptyKey)));
        let big = NewEvent::raw("t", "k", "1".repeat(11));
        assert!(matches!(
            big.validate(10),
            Err(EventError::PayloadTooLarge { size_bytes: 11, .. })
        ));
        assert!(NewEvent::raw("t", "k", "1".repeat(10)).validate(10).is_ok());
    }

    #[test]
    fn ids_from_two_sources_with_other_prefixes_never_collide() {
        let before_restart = EventIds::with_prefix(1);
        let after_restart = EventIds::with_prefix(2);
        assert_ne!(before_restart.next_id(), after_restart.next_id());
        assert_ne!(before_restart.next_id(), before_restart.next_id());
    }

    #[test]
    fn generated_ids_read_as_the_documented_format() {
        let cases = [
            (0, 0),
            (1, 1),
            (0xdead_beef, 0x1234_5678),
            (u64::MAX, u64::from(u32::MAX)),
            (7, u64::from(u32::MAX) + 1),
            (u64::MAX, u64::MAX),
        ];
        for (prefix, sequence) in cases {
            let id = EventId::generated(&id_head(prefix), sequence);
            let expected = format!("evt_{prefix:016x}{sequence:08x}");
            assert_eq!(id.as_str(), expected);
            assert_eq!(id.to_string(), expected);
            assert_eq!(format!("{id:?}"), expected);
        }
    }

    #[test]
    fn id_read_back_equals_the_generated_one_whatever_its_length() {
        let generated = EventIds::with_prefix(0xabc).next_id();
        let read_back = EventId::from_string(generated.to_string());
        assert_eq!(read_back, generated);
        let hash = |id: &EventId| {
            use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
            BuildHasherDefault::<DefaultHasher>::default().hash_one(id)
        };
        assert_eq!(hash(&read_back), hash(&generated));
        let long = "x".repeat(ID_INLINE_BYTES + 1);
        assert_eq!(EventId::from_string(long.clone()).as_str(), long);
        assert_eq!(EventId::from_string(String::new()).as_str(), "");
        assert!(EventId::from_string("evt_1".into()) < EventId::from_string("evt_2".into()));
    }

    #[test]
    fn id_serializes_as_its_text_and_back() {
        let id = EventIds::with_prefix(5).next_id();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        let back: EventId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
    }

    #[test]
    fn fingerprint_differs_for_other_payloads_and_is_stable() {
        assert_eq!(fingerprint(b"{\"a\":1}"), fingerprint(b"{\"a\":1}"));
        assert_ne!(fingerprint(b"{\"a\":1}"), fingerprint(b"{\"a\":2}"));
        assert_ne!(fingerprint(b""), fingerprint(b"\0"));
        // Pinned: a fingerprint stored by one build must mean the same to the next.
        assert_eq!(fingerprint(b"hello world"), PINNED_SHORT);
        assert_eq!(fingerprint(&counting_bytes(256)), PINNED_256);
    }

    const PINNED_SHORT: u64 = 5_983_873_995_342_841_943;
    const PINNED_256: u64 = 1_272_393_386_693_409_272;

    /// `len` bytes counting up from zero (wrapping), so that no two blocks are alike.
    fn counting_bytes(len: usize) -> Vec<u8> {
        (0..len).map(|index| index as u8).collect()
    }

    #[test]
    fn every_byte_of_a_payload_moves_its_fingerprint() {
        // 100 bytes: three full blocks over the four lanes, a whole word, and a tail.
        let payload = counting_bytes(100);
        let original = fingerprint(&payload);
        for index in 0..payload.len() {
            let mut changed = payload.clone();
            changed[index] ^= 0x80;
            assert_ne!(fingerprint(&changed), original, "byte {index} was ignored");
        }
        let mut swapped = payload.clone();
        swapped.copy_within(8..16, 0);
        swapped[8..16].copy_from_slice(&payload[..8]);
        assert_ne!(
            fingerprint(&swapped),
            original,
            "lanes were swapped unnoticed"
        );
        let lengths: std::collections::BTreeSet<u64> =
            (0..=100).map(|len| fingerprint(&vec![0; len])).collect();
        assert_eq!(
            lengths.len(),
            101,
            "zero payloads of different lengths collided"
        );
    }
}
