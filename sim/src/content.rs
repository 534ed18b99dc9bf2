//! A file's bytes in pages shared between disks: cloning is O(1) and a write copies only the
//! pages it touches, so the many states a run keeps (a tracker per crash point, an image per
//! prefix of pending writes) cost what changed between them, not a copy of every file each.
//!
//! Byte `p` of a file is byte `p % PAGE` of page `p / PAGE` when that page holds it, else zero
//! (a page absent or shorter reads as zeros), for `p` below [`Content::len`]. Every byte a
//! page holds past the length is zero, so equal files compare equal however their pages fell.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use imbl::OrdMap;

/// Bytes per page.
pub const PAGE: usize = 4096;

#[derive(Clone, Debug, Default)]
pub struct Content {
    len: u64,
    pages: OrdMap<u64, Arc<Vec<u8>>>,
}

impl Content {
    /// A file holding `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut content = Content::default();
        content.write(0, bytes);
        content
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// Writes `data` at `offset`, extending the file (with zeros up to `offset`) when it ends
    /// before.
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        let end = offset + data.len() as u64;
        let mut at = offset;
        while at < end {
            let index = at / PAGE as u64;
            let within = (at % PAGE as u64) as usize;
            let take = (PAGE - within).min((end - at) as usize);
            let source = &data[(at - offset) as usize..][..take];
            let page = self.pages.entry(index).or_insert_with(|| Arc::new(Vec::new()));
            let page = Arc::make_mut(page);
            if page.len() < within + take {
                page.resize(within + take, 0);
            }
            page[within..within + take].copy_from_slice(source);
            at += take as u64;
        }
        self.len = self.len.max(end);
    }

    /// Cuts the file to `len` bytes, or extends it with zeros.
    pub fn truncate(&mut self, len: u64) {
        if len < self.len {
            let first_gone = len.div_ceil(PAGE as u64);
            let gone: Vec<u64> = self.pages.range(first_gone..).map(|(index, _)| *index).collect();
            for index in gone {
                self.pages.remove(&index);
            }
            let within = (len % PAGE as u64) as usize;
            if within != 0 {
                if let Some(page) = self.pages.get_mut(&(len / PAGE as u64)) {
                    if page.len() > within {
                        Arc::make_mut(page).truncate(within);
                    }
                }
            }
        }
        self.len = len;
    }

    /// Up to `n` bytes from `offset` (fewer at the end of the file).
    pub fn read(&self, offset: u64, n: usize) -> Vec<u8> {
        let end = offset.saturating_add(n as u64).min(self.len);
        let mut out = Vec::with_capacity(end.saturating_sub(offset) as usize);
        let mut at = offset;
        while at < end {
            let index = at / PAGE as u64;
            let within = (at % PAGE as u64) as usize;
            let take = (PAGE - within).min((end - at) as usize);
            let page = self.pages.get(&index).map_or(&[][..], |p| p.as_slice());
            let held = page.len().saturating_sub(within).min(take);
            out.extend_from_slice(&page[within.min(page.len())..][..held]);
            out.resize(out.len() + take - held, 0);
            at += take as u64;
        }
        out
    }

    /// The bytes, page by page (borrowed where a page holds them whole).
    pub fn chunks(&self) -> impl Iterator<Item = Cow<'_, [u8]>> {
        let pages = self.len.div_ceil(PAGE as u64);
        (0..pages).map(move |index| {
            let want = (self.len - index * PAGE as u64).min(PAGE as u64) as usize;
            match self.pages.get(&index) {
                Some(page) if page.len() >= want => Cow::Borrowed(&page[..want]),
                Some(page) => {
                    let mut padded = page.to_vec();
                    padded.resize(want, 0);
                    Cow::Owned(padded)
                }
                None => Cow::Owned(vec![0; want]),
            }
        })
    }

    /// The bytes, contiguous and shared: a file of one page whose page holds it whole is that
    /// page (O(1), what most files are); a longer one is copied once.
    pub fn to_bytes(&self) -> Arc<Vec<u8>> {
        match self.pages.get(&0) {
            Some(page) if self.len <= PAGE as u64 && page.len() as u64 == self.len => Arc::clone(page),
            _ => Arc::new(self.to_vec()),
        }
    }

    /// The bytes, contiguous.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len as usize);
        for chunk in self.chunks() {
            out.extend_from_slice(&chunk);
        }
        out
    }
}

impl PartialEq for Content {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.chunks().zip(other.chunks()).all(|(a, b)| a == b)
    }
}

impl Eq for Content {}

impl Hash for Content {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.len.hash(state);
        for chunk in self.chunks() {
            state.write(&chunk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_read_back_what_was_written_and_share_until_written() {
        let mut a = Content::default();
        a.write(10, b"hello");
        assert_eq!(a.to_vec(), [vec![0; 10], b"hello".to_vec()].concat());
        let big: Vec<u8> = (0..3 * PAGE + 7).map(|i| (i % 251) as u8).collect();
        a.write(0, &big);
        assert_eq!(a.to_vec(), big);
        assert_eq!(a.read(PAGE as u64 - 2, 4), big[PAGE - 2..PAGE + 2]);
        let mut b = a.clone();
        b.write(2 * PAGE as u64, b"x");
        assert!(Arc::ptr_eq(&a.pages[&0], &b.pages[&0]), "an untouched page is shared");
        assert!(!Arc::ptr_eq(&a.pages[&2], &b.pages[&2]), "a written page is copied");
        // A cut and a regrow read zeros where the cut removed bytes.
        b.truncate(PAGE as u64 + 3);
        b.truncate(2 * PAGE as u64);
        let mut want = big[..PAGE + 3].to_vec();
        want.resize(2 * PAGE, 0);
        assert_eq!(b.to_vec(), want);
        assert_eq!(b, Content::from_bytes(&want), "equal bytes compare equal whatever the pages");
        // A write past the end leaves a hole of zeros.
        let mut c = Content::default();
        c.write(5 * PAGE as u64, b"end");
        assert_eq!(c.len(), 5 * PAGE as u64 + 3);
        assert_eq!(c.read(0, 4), [0; 4]);
        assert_eq!(c.read(5 * PAGE as u64, 10), b"end");
        // A one-page file is shared as it is; a longer one is copied.
        let small = Content::from_bytes(b"tiny");
        assert!(Arc::ptr_eq(&small.to_bytes(), &small.pages[&0]));
        assert_eq!(*c.to_bytes(), c.to_vec());
    }
}
