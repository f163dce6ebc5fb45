//! What packing event rows costs and saves (`src/sqlite/packing.rs`), measured
//! on the rows of a store Logbook wrote as text: a dictionary trained as the
//! writer trains it (on the first rows, their personal values blanked), then
//! every sampled row packed and unpacked with it at two levels, and once
//! without a dictionary. It measures; it asserts nothing.
//!
//! ```sh
//! cargo run --release -p logbook-storage --example packing_cost -- <data dir>/logbook.sqlite3
//! ```

use std::time::Instant;

use zstd::zstd_safe::{self, CCtx, CDict, DCtx, DDict};

/// How many rows are measured, spread over the store, and how many of the
/// first train the dictionary (as `TRAIN_AFTER_EVENTS`).
const ROWS: usize = 40_000;
const TRAINED_ON: usize = 2048;

fn main() {
    let path = std::env::args().nth(1).expect("usage: packing_cost <path of logbook.sqlite3>");
    let connection = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("the store opens");
    // A store from before migration 0011 has no `packed` column: every row is text.
    let packs: bool = connection
        .query_row("SELECT COUNT(*) > 0 FROM pragma_table_info('events') WHERE name = 'packed'", [], |row| row.get(0))
        .unwrap();
    let text = if packs { "packed IS NULL" } else { "1" };
    let total: i64 =
        connection.query_row(&format!("SELECT COUNT(*) FROM events WHERE {text}"), [], |row| row.get(0)).unwrap();
    let every = (total as usize / ROWS).max(1);
    let mut statement = connection
        .prepare(&format!("SELECT body || char(10) || personal FROM events WHERE {text} AND rowid % ?1 = 0 LIMIT ?2"))
        .unwrap();
    let rows: Vec<Vec<u8>> = statement
        .query_map(rusqlite::params![every as i64, ROWS as i64], |row| row.get::<_, String>(0))
        .unwrap()
        .map(|row| row.unwrap().into_bytes())
        .collect();
    assert!(rows.len() > TRAINED_ON, "the store holds too few rows kept as text");
    let text_bytes = rows.iter().map(Vec::len).sum::<usize>() as f64 / rows.len() as f64;
    println!("{} rows, {text_bytes:.0} bytes of text each", rows.len());

    let mut samples = Vec::new();
    let mut sizes = Vec::new();
    for row in &rows[..TRAINED_ON] {
        let text = std::str::from_utf8(row).expect("text rows");
        let (body, personal) = text.split_once('\n').expect("a body and commitments");
        let before = samples.len();
        logbook_storage::sqlite::write_training_sample(body, personal, &mut samples);
        sizes.push(samples.len() - before);
    }
    let started = Instant::now();
    let dictionary = zstd::dict::from_continuous(&samples, &sizes, 16 * 1024).expect("training");
    println!("trained a {} byte dictionary in {:?}", dictionary.len(), started.elapsed());

    for level in [1, 3] {
        let prepared = CDict::create(&dictionary, level);
        let mut context = CCtx::create();
        let started = Instant::now();
        let packed: Vec<Vec<u8>> = rows
            .iter()
            .map(|row| {
                let mut out = Vec::with_capacity(zstd_safe::compress_bound(row.len()));
                context.compress_using_cdict(&mut out, row, &prepared).expect("packing");
                out
            })
            .collect();
        let packing = started.elapsed().as_secs_f64() * 1e6 / rows.len() as f64;
        let unprepared = DDict::create(&dictionary);
        let mut context = DCtx::create();
        let started = Instant::now();
        for frame in &packed {
            let size = zstd_safe::get_frame_content_size(frame).unwrap().unwrap() as usize;
            let mut out = Vec::with_capacity(size);
            context.decompress_using_ddict(&mut out, frame, &unprepared).expect("unpacking");
        }
        let unpacking = started.elapsed().as_secs_f64() * 1e6 / rows.len() as f64;
        let bytes = packed.iter().map(Vec::len).sum::<usize>() as f64 / rows.len() as f64;
        println!(
            "zstd level {level}, dictionary: {bytes:.0} bytes, packed in {packing:.2} µs, unpacked in {unpacking:.2} µs"
        );
    }
    let mut context = CCtx::create();
    let bytes = rows
        .iter()
        .map(|row| {
            let mut out = Vec::with_capacity(zstd_safe::compress_bound(row.len()));
            context.compress(&mut out, row, 3).expect("packing");
            out.len()
        })
        .sum::<usize>() as f64
        / rows.len() as f64;
    println!("zstd level 3, no dictionary: {bytes:.0} bytes");
}
