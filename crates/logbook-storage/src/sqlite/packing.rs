//! Event rows packed with zstd and a dictionary trained on the store's own
//! events (migration 0011).
//!
//! An event's body and commitments are JSON text of about 1.1 KB, most of it the
//! same member names in every event and base64 that no dictionary shortens. A
//! row that held both as text put two or three events on a 4 KiB page, and at
//! 10M events an export or a free-text search read most of its rows from disk.
//! Packed, the two take about a third of that, so a page holds about twice as
//! many rows.
//!
//! The writer keeps the first [`TRAIN_AFTER_EVENTS`] events it writes as text,
//! and trains a dictionary on them with their personal values blanked: the
//! dictionary, stored in the `dictionaries` table, holds none of the values that
//! erasure will one day have to remove. Every later row is packed with it:
//! `body` and `personal` hold empty text and `packed` one zstd frame of
//! `body`, a newline and `personal` (neither holds a raw newline: both are
//! compact JSON), whose header names the dictionary (RFC 8878's
//! `Dictionary_ID`). A row with `packed` null is read as it is, so rows written
//! before this, or rewritten as text behind Logbook's back, read as they always
//! did; verification then finds any change in what they say.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use logbook_core::integrity::PERSONAL_FIELDS;
use rusqlite::{Connection, OptionalExtension, params};
use zstd::zstd_safe::{self, CCtx, CDict, DCtx, DDict};

use super::backend;
use crate::append_plan::EventRow;
use crate::model::StorageError;

/// How many events the writer keeps as text before it trains a dictionary on
/// them. Training on 2,048 events of the benchmark's workload took about a
/// fifth of a second, once.
pub const TRAIN_AFTER_EVENTS: usize = 2048;

/// The largest dictionary trained: 16 KiB packed the workload's events within
/// 3% of 64 KiB.
const DICTIONARY_SIZE: usize = 16 * 1024;

/// zstd's default level: faster levels packed a few percent less, for about the
/// same time on rows this small.
const LEVEL: i32 = 3;

/// The most text a packed row may unpack to; a larger size in a frame's header
/// is a corrupt row, not an allocation to make.
const MAX_UNPACKED: u64 = 64 * 1024 * 1024;

/// What the writer packs rows with, and the samples it trains on until then.
pub(crate) struct Packer {
    train_after: usize,
    dictionary: Option<PackingDictionary>,
    context: CCtx<'static>,
    samples: Vec<u8>,
    sample_sizes: Vec<usize>,
}

/// A dictionary ready to pack with, its row's number and its zstd id.
struct PackingDictionary {
    stored_as: (i64, u32),
    prepared: CDict<'static>,
}

impl Packer {
    /// A packer that trains its dictionary once `train_after` events were
    /// written as text (see [`TRAIN_AFTER_EVENTS`]).
    pub(crate) fn new(train_after: usize) -> Packer {
        Packer {
            train_after: train_after.max(1),
            dictionary: None,
            context: CCtx::create(),
            samples: Vec::new(),
            sample_sizes: Vec::new(),
        }
    }

    /// Makes ready to pack `rows` inside the writer's transaction: takes the
    /// newest dictionary the transaction sees, by number and zstd id (so that
    /// a dictionary whose transaction was rolled back is never used, even when
    /// another took its number), or, with none, learns from the rows and trains
    /// one once it has enough samples. Rows written in the transaction that
    /// stores a dictionary are packed with it.
    pub(crate) fn prepare(&mut self, connection: &Connection, rows: &[EventRow<'_>]) -> Result<(), StorageError> {
        let newest: Option<(i64, u32)> = connection
            .prepare_cached("SELECT number, zstd_id FROM dictionaries ORDER BY number DESC LIMIT 1")
            .map_err(backend)?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
            .map_err(backend)?;
        if newest != self.dictionary.as_ref().map(|dictionary| dictionary.stored_as) {
            self.load_newest(connection)?;
        }
        if self.dictionary.is_some() {
            return Ok(());
        }
        for row in rows {
            self.learn(&row.body_json, &row.personal_json);
        }
        if self.sample_sizes.len() >= self.train_after {
            self.train(connection)?;
        }
        Ok(())
    }

    /// Takes the newest stored dictionary, or none.
    fn load_newest(&mut self, connection: &Connection) -> Result<(), StorageError> {
        let newest: Option<(i64, u32, Vec<u8>)> = connection
            .prepare_cached("SELECT number, zstd_id, dictionary FROM dictionaries ORDER BY number DESC LIMIT 1")
            .map_err(backend)?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()
            .map_err(backend)?;
        self.dictionary = match newest {
            None => None,
            Some((number, zstd_id, dictionary)) => Some(PackingDictionary {
                stored_as: (number, zstd_id),
                prepared: CDict::try_create(&dictionary, LEVEL)
                    .ok_or_else(|| StorageError::Corrupt(format!("packing dictionary {number} does not load")))?,
            }),
        };
        Ok(())
    }

    /// Keeps an event as a training sample.
    fn learn(&mut self, body_json: &str, personal_json: &str) {
        let before = self.samples.len();
        write_training_sample(body_json, personal_json, &mut self.samples);
        self.sample_sizes.push(self.samples.len() - before);
    }

    /// Trains a dictionary on the samples and stores it. A failed training
    /// (samples too alike or too few for zstd) is not an error: rows stay text,
    /// and the next samples are tried.
    fn train(&mut self, connection: &Connection) -> Result<(), StorageError> {
        let trained = zstd::dict::from_continuous(&self.samples, &self.sample_sizes, DICTIONARY_SIZE);
        self.samples = Vec::new();
        self.sample_sizes = Vec::new();
        let dictionary = match trained {
            Ok(dictionary) => dictionary,
            Err(error) => {
                tracing::warn!(%error, "training a packing dictionary failed; rows stay text for now");
                return Ok(());
            }
        };
        let Some(zstd_id) = zstd_safe::get_dict_id_from_dict(&dictionary) else {
            tracing::warn!("a trained packing dictionary has no id; rows stay text for now");
            return Ok(());
        };
        connection
            .prepare_cached(
                "INSERT INTO dictionaries (number, zstd_id, dictionary)
                 VALUES ((SELECT COALESCE(MAX(number), 0) + 1 FROM dictionaries), ?1, ?2)
                 ON CONFLICT (zstd_id) DO NOTHING",
            )
            .map_err(backend)?
            .execute(params![zstd_id.get(), dictionary])
            .map_err(backend)?;
        self.load_newest(connection)
    }

    /// The packed form of a row's body and commitments, or `None` while there
    /// is no dictionary (the row is then written as text).
    pub(crate) fn pack(&mut self, body_json: &str, personal_json: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(dictionary) = &self.dictionary else { return Ok(None) };
        let mut text = Vec::with_capacity(body_json.len() + 1 + personal_json.len());
        text.extend_from_slice(body_json.as_bytes());
        text.push(b'\n');
        text.extend_from_slice(personal_json.as_bytes());
        let mut packed = Vec::with_capacity(zstd_safe::compress_bound(text.len()));
        self.context
            .compress_using_cdict(&mut packed, &text, &dictionary.prepared)
            .map_err(|code| StorageError::Backend(format!("packing a row: {}", zstd_safe::get_error_name(code))))?;
        Ok(Some(packed))
    }
}

/// Appends to `out` what the writer trains its dictionary on for one event:
/// its body and commitments as packed (the body, a newline, the commitments),
/// with every personal value, commitment and salt blanked.
pub fn write_training_sample(body_json: &str, personal_json: &str, out: &mut Vec<u8>) {
    if let Ok(mut body) = serde_json::from_str::<serde_json::Value>(body_json) {
        for field in PERSONAL_FIELDS {
            let Some((parent, key)) = field.split_once('.') else { continue };
            if let Some(value) = body.get_mut(parent).and_then(|parent| parent.get_mut(key)) {
                *value = serde_json::Value::String(String::new());
            }
        }
        serde_json::to_writer(&mut *out, &body).expect("writing to a Vec");
    }
    out.push(b'\n');
    if let Ok(mut personal) = serde_json::from_str::<serde_json::Value>(personal_json) {
        for entry in personal.as_object_mut().into_iter().flat_map(|entries| entries.values_mut()) {
            for value in entry.as_object_mut().into_iter().flat_map(|entry| entry.values_mut()) {
                *value = serde_json::Value::String(String::new());
            }
        }
        serde_json::to_writer(&mut *out, &personal).expect("writing to a Vec");
    }
}

/// The dictionaries readers unpack rows with, loaded once each, shared by every
/// reader thread.
#[derive(Default)]
pub(crate) struct Unpacker {
    dictionaries: RwLock<HashMap<u32, Arc<DDict<'static>>>>,
}

thread_local! {
    /// Each reader thread's decompression context, made once: making one
    /// allocates more than a row's text.
    static CONTEXT: RefCell<DCtx<'static>> = RefCell::new(DCtx::create());
}

impl Unpacker {
    /// A row's body and commitments as JSON text: as stored, or unpacked when
    /// `packed` holds them. `seq` names the event in an error.
    pub(crate) fn row_json(
        &self,
        connection: &Connection,
        seq: i64,
        (body, personal, packed): (String, String, Option<Vec<u8>>),
    ) -> Result<(String, String), StorageError> {
        let Some(packed) = packed else { return Ok((body, personal)) };
        let corrupt = |why: String| StorageError::Corrupt(format!("event {seq}: its packed row {why}"));
        if !body.is_empty() || !personal.is_empty() {
            return Err(corrupt("also holds text".into()));
        }
        let zstd_id =
            zstd_safe::get_dict_id_from_frame(&packed).ok_or_else(|| corrupt("names no dictionary".into()))?;
        let dictionary = self
            .dictionary(connection, zstd_id.get())?
            .ok_or_else(|| corrupt(format!("names dictionary {zstd_id}, which the store does not hold")))?;
        let size = match zstd_safe::get_frame_content_size(&packed) {
            Ok(Some(size)) if size <= MAX_UNPACKED => size as usize,
            _ => return Err(corrupt("gives no size, or too large a one".into())),
        };
        let mut text = Vec::with_capacity(size);
        CONTEXT
            .with_borrow_mut(|context| context.decompress_using_ddict(&mut text, &packed, &dictionary))
            .map_err(|code| corrupt(format!("does not unpack ({})", zstd_safe::get_error_name(code))))?;
        let text = String::from_utf8(text).map_err(|_| corrupt("is not UTF-8 text".into()))?;
        let Some((body, personal)) = text.split_once('\n') else {
            return Err(corrupt("holds no commitments".into()));
        };
        Ok((body.to_string(), personal.to_string()))
    }

    /// The dictionary of this zstd id, read from the store the first time.
    fn dictionary(&self, connection: &Connection, zstd_id: u32) -> Result<Option<Arc<DDict<'static>>>, StorageError> {
        if let Some(found) = self.dictionaries.read().expect("no reader panics holding the lock").get(&zstd_id) {
            return Ok(Some(Arc::clone(found)));
        }
        let stored: Option<Vec<u8>> = connection
            .prepare_cached("SELECT dictionary FROM dictionaries WHERE zstd_id = ?1")
            .map_err(backend)?
            .query_row([zstd_id], |row| row.get(0))
            .optional()
            .map_err(backend)?;
        let Some(stored) = stored else { return Ok(None) };
        let prepared = Arc::new(
            DDict::try_create(&stored)
                .ok_or_else(|| StorageError::Corrupt(format!("packing dictionary {zstd_id} does not load")))?,
        );
        self.dictionaries.write().expect("no reader panics holding the lock").insert(zstd_id, Arc::clone(&prepared));
        Ok(Some(prepared))
    }
}
