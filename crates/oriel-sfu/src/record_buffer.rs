//! Length-prefixed records (a 4-byte big-endian length, then the record) as they arrive on a
//! byte stream in pieces: the shard wire and the links between nodes both read this framing.

#[derive(Debug, Default)]
pub struct RecordBuffer {
    buffer: Vec<u8>,
    /// Where the next unread record starts in `buffer`.
    read: usize,
}

impl RecordBuffer {
    /// Bytes as they arrived, records whole or not.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.read > 0 && (self.read == self.buffer.len() || self.read > self.buffer.len() / 2) {
            self.buffer.drain(..self.read);
            self.read = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole record, taken; `Ok(None)` until more bytes come; `Err(length)` for a
    /// record longer than `max` (the stream is not to be trusted further).
    pub fn next_record(&mut self, max: usize) -> Result<Option<&[u8]>, usize> {
        let available = &self.buffer[self.read..];
        let Some(length) = available.get(..4) else {
            return Ok(None);
        };
        let length = u32::from_be_bytes(length.try_into().expect("4 bytes")) as usize;
        if length > max {
            return Err(length);
        }
        if available.len() < 4 + length {
            return Ok(None);
        }
        let start = self.read + 4;
        self.read = start + length;
        Ok(Some(&self.buffer[start..start + length]))
    }
}
