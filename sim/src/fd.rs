//! A file descriptor table: lowest free number first, from 3, as a fresh Linux process does.

use std::collections::BTreeMap;

use crate::{Errno, Fd, FsResult};

/// First descriptor handed out (0, 1, 2 are the standard streams of a real process).
const FIRST_FD: u32 = 3;

#[derive(Clone, Debug)]
pub(crate) struct FdTable<T> {
    open: BTreeMap<u32, T>,
}

impl<T> Default for FdTable<T> {
    fn default() -> Self {
        Self { open: BTreeMap::new() }
    }
}

impl<T> FdTable<T> {
    pub fn insert(&mut self, value: T) -> Fd {
        let mut n = FIRST_FD;
        for &used in self.open.keys() {
            if used != n {
                break;
            }
            n += 1;
        }
        self.open.insert(n, value);
        Fd(n)
    }

    pub fn get(&self, fd: Fd) -> FsResult<&T> {
        self.open.get(&fd.0).ok_or(Errno::EBADF)
    }

    pub fn get_mut(&mut self, fd: Fd) -> FsResult<&mut T> {
        self.open.get_mut(&fd.0).ok_or(Errno::EBADF)
    }

    pub fn remove(&mut self, fd: Fd) -> FsResult<T> {
        self.open.remove(&fd.0).ok_or(Errno::EBADF)
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.open.values()
    }
}
