//! Dictionary-encoded column buffers, handed to Python as Arrow-ready bytes.

use std::hash::Hasher;

use hashbrown::HashTable;

pub(crate) const KIND_NULL: u8 = 0;
pub(crate) const KIND_STR: u8 = 1;
pub(crate) const KIND_INT: u8 = 2;
pub(crate) const KIND_BIG_INT: u8 = 3;

/// One column being built, dictionary-encoded: the distinct texts (Arrow utf8 offsets + data), a
/// code per row (-1: no text), the kind of every value and the integers. Rows without a value
/// are filled in lazily (`pad`), so a null costs nothing.
pub(crate) struct Column {
    pub(crate) offsets: Vec<i32>,
    pub(crate) data: Vec<u8>,
    /// Codes of the distinct texts, hashed by text (the texts live in `data`, not in the table).
    index: HashTable<i32>,
    pub(crate) codes: Vec<i32>,
    pub(crate) kinds: Vec<u8>,
    /// Integer values (rows of kind 2; 0 elsewhere); empty while the column has none.
    pub(crate) ints: Vec<i64>,
    /// The code pushed last (-1: none): consecutive records often repeat a value.
    last: i32,
}

/// The text of dictionary entry `code`.
pub(crate) fn entry<'d>(offsets: &[i32], data: &'d [u8], code: i32) -> &'d [u8] {
    let c = code as usize;
    &data[offsets[c] as usize..offsets[c + 1] as usize]
}

pub(crate) fn text_hash(bytes: &[u8]) -> u64 {
    let mut h = WordHasher::default();
    h.write(bytes);
    h.finish()
}

impl Column {
    pub(crate) fn new() -> Self {
        Column { offsets: vec![0], data: Vec::new(), index: HashTable::new(), codes: Vec::new(),
                 kinds: Vec::new(), ints: Vec::new(), last: -1 }
    }

    /// Nulls up to row `row` (exclusive).
    #[inline]
    pub(crate) fn pad(&mut self, row: usize) {
        if self.codes.len() < row {
            self.codes.resize(row, -1);
            self.kinds.resize(row, KIND_NULL);
        }
    }

    #[inline]
    pub(crate) fn push_str(&mut self, row: usize, text: &str, kind: u8) {
        self.pad(row);
        let text = text.as_bytes();
        let Column { offsets, data, index, .. } = self;
        let code = if self.last >= 0 && entry(offsets, data, self.last) == text {
            self.last
        } else {
            let h = text_hash(text);
            match index.find(h, |&c| entry(offsets, data, c) == text) {
                Some(&code) => code,
                None => {
                    let code = (offsets.len() - 1) as i32;
                    data.extend_from_slice(text);
                    offsets.push(data.len() as i32);
                    index.insert_unique(h, code, |&c| text_hash(entry(offsets, data, c)));
                    code
                }
            }
        };
        self.last = code;
        self.codes.push(code);
        self.kinds.push(kind);
    }

    pub(crate) fn push_int(&mut self, row: usize, value: i128) {
        match i64::try_from(value) {
            Ok(v) => {
                self.pad(row);
                self.ints.resize(row, 0);
                self.ints.push(v);
                self.codes.push(-1);
                self.kinds.push(KIND_INT);
            }
            Err(_) => self.push_str(row, &value.to_string(), KIND_BIG_INT),
        }
    }
}

/// A fast word-at-a-time hasher for the column dictionaries (not DoS-resistant; the table is
/// per batch and per column, so a crafted log can at worst slow its own batch down).
#[derive(Default)]
pub(crate) struct WordHasher(u64);

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = (h.rotate_left(5) ^ u64::from_le_bytes(c.try_into().expect("8 bytes"))).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }
}

/// The bytes of a slice of plain integers (little-endian machine).
pub(crate) fn as_bytes<T: Copy>(values: &[T]) -> &[u8] {
    // SAFETY: i32/i64 have no padding; the byte view covers exactly the slice's memory.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values)) }
}

