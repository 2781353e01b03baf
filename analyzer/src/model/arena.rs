//! Storage for images and connections: indexed by id like a `Vec`, but an entry can be
//! evicted (freed) when a streaming replay no longer needs it, leaving an 8-byte hole.
//! That keeps a timeline's memory proportional to live processes and open connections,
//! not to the length of the trace.

/// An indexable store with evictable entries. Iteration yields live entries in id order.
#[derive(Debug, Clone)]
pub struct Arena<T> {
    slots: Vec<Option<Box<T>>>,
    live: usize,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena {
            slots: Vec::new(),
            live: 0,
        }
    }
}

impl<T> Arena<T> {
    /// Appends; returns the new entry's index.
    pub fn push(&mut self, t: T) -> usize {
        self.slots.push(Some(Box::new(t)));
        self.live += 1;
        self.slots.len() - 1
    }

    /// Entries ever pushed (the next index).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Nothing ever pushed.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Entries not evicted.
    pub fn live(&self) -> usize {
        self.live
    }

    /// The entry, unless evicted.
    pub fn get(&self, i: usize) -> Option<&T> {
        self.slots.get(i).and_then(|s| s.as_deref())
    }

    /// The entry, unless evicted.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.slots.get_mut(i).and_then(|s| s.as_deref_mut())
    }

    /// Two different entries at once, each unless evicted (`a` must differ from `b`).
    pub fn pair_mut(&mut self, a: usize, b: usize) -> (Option<&T>, Option<&mut T>) {
        if a == b || a >= self.slots.len() || b >= self.slots.len() {
            return (None, None);
        }
        let (lo, hi) = self.slots.split_at_mut(a.max(b));
        let (sa, sb) = if a < b {
            (&lo[a], &mut hi[0])
        } else {
            (&hi[0], &mut lo[b])
        };
        (sa.as_deref(), sb.as_deref_mut())
    }

    /// Frees an entry.
    pub fn evict(&mut self, i: usize) {
        if let Some(s) = self.slots.get_mut(i) {
            if s.take().is_some() {
                self.live -= 1;
            }
        }
    }

    /// Live entries in index order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.slots.iter().filter_map(|s| s.as_deref())
    }
}

impl<T> std::ops::Index<usize> for Arena<T> {
    type Output = T;
    /// Panics on an evicted entry, as a `Vec` does out of bounds: the model only evicts
    /// what nothing can reach any more.
    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(t) => t,
            None => panic!("arena entry {i} was evicted or never existed"),
        }
    }
}

impl<T> std::ops::IndexMut<usize> for Arena<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        match self.get_mut(i) {
            Some(t) => t,
            None => panic!("arena entry {i} was evicted or never existed"),
        }
    }
}

impl<'a, T> IntoIterator for &'a Arena<T> {
    type Item = &'a T;
    type IntoIter = std::iter::FilterMap<
        std::slice::Iter<'a, Option<Box<T>>>,
        fn(&'a Option<Box<T>>) -> Option<&'a T>,
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.slots.iter().filter_map(|s| s.as_deref())
    }
}
