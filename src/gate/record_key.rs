//! The key of a [`super::MemoryStore`] record: a subscriber and an idempotency key, hashed
//! once per store operation.
//!
//! A claim, complete or release hashes the pair once ([`RecordKeyRef::new`]); that hash
//! picks the shard and, through a pass-through hasher, is the map's hash too, so an operation
//! costs one pass over the text and one probe. Lookups borrow: the map is searched with a
//! [`RecordKeyRef`] of two `&str`s through a `dyn` borrow, and nothing is allocated unless a
//! new record is inserted, which then owns one joined string.
//!
//! Designs rejected: a map per subscriber inside each shard (two probes and three hashes of
//! the text per operation), and one map keyed by a joined `String` built for every lookup
//! (an allocation per claim).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

/// A map from record keys, hashed by the hash the key already carries.
pub(super) type RecordMap<V> = HashMap<RecordKey, V, BuildHasherDefault<PassThroughHasher>>;

/// The pair's hash function: a multiply-rotate step per eight bytes, about a tenth of the
/// instructions of std's SipHash on short keys.
///
/// It is fixed, not seeded. std's default hasher is fixed here too (a seeded one would make
/// iteration order differ between runs), so neither resists keys chosen to collide; the
/// store's capacity bound limits what such keys could cost.
#[derive(Default, Clone, Copy)]
struct KeyHasher {
    hash: u64,
}

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.hash =
                (self.hash.rotate_left(26) ^ u64::from_le_bytes(word)).wrapping_mul(MULTIPLIER);
        }
        for &byte in chunks.remainder() {
            self.hash = (self.hash.rotate_left(26) ^ u64::from(byte)).wrapping_mul(MULTIPLIER);
        }
    }

    fn finish(&self) -> u64 {
        // Fold the well-mixed high bits into the low ones, which pick buckets.
        self.hash ^ (self.hash >> 32)
    }
}

/// The map's hasher: takes the `u64` a key writes as the hash. Anything else written to it
/// (never, for [`RecordKey`]) is mixed in as [`KeyHasher`] would.
#[derive(Default, Clone, Copy)]
pub(super) struct PassThroughHasher {
    inner: KeyHasher,
}

impl Hasher for PassThroughHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.inner.write(bytes);
    }

    fn write_u64(&mut self, hash: u64) {
        self.inner.hash = hash;
    }

    fn finish(&self) -> u64 {
        self.inner.hash
    }
}

/// A record's key as the map owns it: the joined text and where the subscriber ends.
pub(super) struct RecordKey {
    hash: u64,
    subscriber_len: usize,
    text: Box<str>,
}

/// A record's key as an operation borrows it.
#[derive(Clone, Copy)]
pub(super) struct RecordKeyRef<'a> {
    hash: u64,
    subscriber: &'a str,
    key: &'a str,
}

impl<'a> RecordKeyRef<'a> {
    /// The key of `subscriber`'s record for `key`, hashed.
    pub(super) fn new(subscriber: &'a str, key: &'a str) -> Self {
        let hash = BuildHasherDefault::<KeyHasher>::default().hash_one((subscriber, key));
        Self {
            hash,
            subscriber,
            key,
        }
    }

    /// Which of `shards` shards holds the record: the hash remixed, so that the shard does
    /// not fix the bits the map picks buckets and tags from.
    pub(super) fn shard(&self, shards: usize) -> usize {
        let mixed = self.hash.wrapping_mul(MULTIPLIER) >> 32;
        (mixed % shards as u64) as usize
    }

    /// The owned key, for a new record.
    pub(super) fn to_owned_key(self) -> RecordKey {
        let mut text = String::with_capacity(self.subscriber.len() + self.key.len());
        text.push_str(self.subscriber);
        text.push_str(self.key);
        RecordKey {
            hash: self.hash,
            subscriber_len: self.subscriber.len(),
            text: text.into_boxed_str(),
        }
    }

    /// The form the map is searched with.
    pub(super) fn lookup(&self) -> &(dyn KeyParts + 'a) {
        self
    }
}

/// What a key is, owned or borrowed: its hash, subscriber and key.
pub(super) trait KeyParts {
    fn parts(&self) -> (u64, &str, &str);
}

impl KeyParts for RecordKey {
    fn parts(&self) -> (u64, &str, &str) {
        let (subscriber, key) = self.text.split_at(self.subscriber_len);
        (self.hash, subscriber, key)
    }
}

impl KeyParts for RecordKeyRef<'_> {
    fn parts(&self) -> (u64, &str, &str) {
        (self.hash, self.subscriber, self.key)
    }
}

impl<'a> Borrow<dyn KeyParts + 'a> for RecordKey {
    fn borrow(&self) -> &(dyn KeyParts + 'a) {
        self
    }
}

impl Hash for dyn KeyParts + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.parts().0);
    }
}

impl PartialEq for dyn KeyParts + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn KeyParts + '_ {}

// The owned key hashes and compares exactly as its borrowed form, as `Borrow` requires.
impl Hash for RecordKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self as &dyn KeyParts).hash(state);
    }
}

impl PartialEq for RecordKey {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for RecordKey {}

#[cfg(all(test, not(eventgate_loom)))]
mod tests {
    use super::*;

    /// Both pairs under one hash, so that only the comparison can tell them apart.
    fn colliding(subscriber: &'static str, key: &'static str) -> RecordKeyRef<'static> {
        RecordKeyRef {
            hash: 7,
            subscriber,
            key,
        }
    }

    #[test]
    fn pairs_that_join_to_the_same_text_are_different_keys() {
        let mut map: RecordMap<u32> = RecordMap::default();
        map.insert(colliding("ab", "c").to_owned_key(), 1);
        map.insert(colliding("a", "bc").to_owned_key(), 2);
        assert_eq!(map.len(), 2);
        assert_eq!(map.get(colliding("ab", "c").lookup()), Some(&1));
        assert_eq!(map.get(colliding("a", "bc").lookup()), Some(&2));
        assert_eq!(map.get(colliding("abc", "").lookup()), None);
    }

    #[test]
    fn a_borrowed_key_finds_the_record_its_owned_form_was_stored_under() {
        let mut map: RecordMap<u32> = RecordMap::default();
        map.insert(RecordKeyRef::new("billing", "order:1").to_owned_key(), 1);
        assert_eq!(
            map.get(RecordKeyRef::new("billing", "order:1").lookup()),
            Some(&1)
        );
        assert_eq!(
            map.get(RecordKeyRef::new("billing", "order:2").lookup()),
            None
        );
        assert_eq!(
            map.get(RecordKeyRef::new("shipping", "order:1").lookup()),
            None
        );
    }
}
