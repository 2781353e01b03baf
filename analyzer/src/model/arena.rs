//! Storage for images and connections: indexed by id like a `Vec`, but an entry can be
//! evicted (freed) when a streaming replay no longer needs it. Slots live in pages of
//! [`PAGE`] ids, and a page whose entries are all evicted is freed too, so a timeline's
//! memory stays proportional to live processes and open connections rather than to the
//! number ever seen (8 bytes per id ever seen would be 10 MB per 10 M events of a busy
//! host, plus the vector's doubling).

/// Ids per page: small enough that long-lived entries scattered among short-lived ones
/// pin little (a page of slots is 2 KiB), large enough that the directory is negligible
/// (8 bytes per 256 ids).
const PAGE: usize = 256;

#[derive(Debug, Clone)]
struct Page<T> {
    slots: Box<[Option<Box<T>>]>,
    live: usize,
}

impl<T> Page<T> {
    fn new() -> Self {
        Page {
            slots: (0..PAGE).map(|_| None).collect(),
            live: 0,
        }
    }
}

/// An indexable store with evictable entries. Iteration yields live entries in id order.
#[derive(Debug, Clone)]
pub struct Arena<T> {
    pages: Vec<Option<Page<T>>>,
    len: usize,
    live: usize,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena {
            pages: Vec::new(),
            len: 0,
            live: 0,
        }
    }
}

impl<T> Arena<T> {
    /// Appends; returns the new entry's index.
    pub fn push(&mut self, t: T) -> usize {
        let i = self.len;
        let (p, s) = (i / PAGE, i % PAGE);
        if p == self.pages.len() {
            self.pages.push(None);
        }
        let page = self.pages[p].get_or_insert_with(Page::new);
        page.slots[s] = Some(Box::new(t));
        page.live += 1;
        self.live += 1;
        self.len += 1;
        i
    }

    /// Entries ever pushed (the next index).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing ever pushed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries not evicted.
    pub fn live(&self) -> usize {
        self.live
    }

    /// The entry, unless evicted.
    pub fn get(&self, i: usize) -> Option<&T> {
        self.pages
            .get(i / PAGE)?
            .as_ref()?
            .slots
            .get(i % PAGE)?
            .as_deref()
    }

    /// The entry, unless evicted.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.pages
            .get_mut(i / PAGE)?
            .as_mut()?
            .slots
            .get_mut(i % PAGE)?
            .as_deref_mut()
    }

    /// Two different entries at once, each unless evicted (`a` must differ from `b`).
    pub fn pair_mut(&mut self, a: usize, b: usize) -> (Option<&T>, Option<&mut T>) {
        if a == b || a >= self.len || b >= self.len {
            return (None, None);
        }
        let (pa, pb) = (a / PAGE, b / PAGE);
        if pa == pb {
            let Some(page) = self.pages[pa].as_mut() else {
                return (None, None);
            };
            let (sa, sb) = (a % PAGE, b % PAGE);
            let (lo, hi) = page.slots.split_at_mut(sa.max(sb));
            let (x, y) = if sa < sb {
                (&lo[sa], &mut hi[0])
            } else {
                (&hi[0], &mut lo[sb])
            };
            return (x.as_deref(), y.as_deref_mut());
        }
        let (lo, hi) = self.pages.split_at_mut(pa.max(pb));
        let (x, y) = if pa < pb {
            (&lo[pa], &mut hi[0])
        } else {
            (&hi[0], &mut lo[pb])
        };
        (
            x.as_ref().and_then(|p| p.slots[a % PAGE].as_deref()),
            y.as_mut().and_then(|p| p.slots[b % PAGE].as_deref_mut()),
        )
    }

    /// Frees an entry, and its page when that was the page's last live entry (unless
    /// the page is still being filled).
    pub fn evict(&mut self, i: usize) {
        let p = i / PAGE;
        let Some(Some(page)) = self.pages.get_mut(p) else {
            return;
        };
        let Some(slot) = page.slots.get_mut(i % PAGE) else {
            return;
        };
        if slot.take().is_some() {
            page.live -= 1;
            self.live -= 1;
            if page.live == 0 && (p + 1) * PAGE <= self.len {
                self.pages[p] = None;
            }
        }
    }

    /// Live entries in index order.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            arena: self,
            front: 0,
            back: self.len,
        }
    }
}

/// Live entries of an [`Arena`] in index order (from either end).
#[derive(Debug)]
pub struct Iter<'a, T> {
    arena: &'a Arena<T>,
    front: usize,
    back: usize,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        while self.front < self.back {
            let i = self.front;
            match &self.arena.pages[i / PAGE] {
                // A freed page: nothing live up to its end.
                None => self.front = (i / PAGE + 1) * PAGE,
                Some(page) => {
                    self.front += 1;
                    if let Some(t) = page.slots[i % PAGE].as_deref() {
                        return Some(t);
                    }
                }
            }
        }
        None
    }
}

impl<T> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        while self.back > self.front {
            let i = self.back - 1;
            match &self.arena.pages[i / PAGE] {
                None => self.back = (i / PAGE * PAGE).max(self.front),
                Some(page) => {
                    self.back -= 1;
                    if let Some(t) = page.slots[i % PAGE].as_deref() {
                        return Some(t);
                    }
                }
            }
        }
        None
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
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arena against a plain `Vec<Option<T>>` under pushes and evictions in a
    /// pseudo-random order, pages freed and all.
    #[test]
    fn behaves_as_a_vector_of_options() {
        let mut arena = Arena::default();
        let mut model: Vec<Option<u64>> = Vec::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for step in 0..20_000u64 {
            if rnd() % 3 != 0 || model.is_empty() {
                assert_eq!(arena.push(step), model.len());
                model.push(Some(step));
            } else {
                // Mostly recent entries, sometimes old ones, like processes and sockets.
                let n = model.len() as u64;
                let i = if rnd() % 4 == 0 {
                    rnd() % n
                } else {
                    n - 1 - rnd() % n.min(600)
                } as usize;
                arena.evict(i);
                model[i] = None;
            }
            if step % 997 == 0 {
                let a = (rnd() % model.len() as u64) as usize;
                let b = (rnd() % model.len() as u64) as usize;
                let (x, y) = arena.pair_mut(a, b);
                if a == b {
                    assert!(x.is_none() && y.is_none());
                } else {
                    assert_eq!(x.copied(), model[a]);
                    assert_eq!(y.map(|v| *v), model[b]);
                }
            }
        }
        // Whole pages of finished entries, as a long trace leaves behind.
        for (i, m) in model
            .iter_mut()
            .enumerate()
            .take(5 * PAGE + 7)
            .skip(2 * PAGE)
        {
            arena.evict(i);
            *m = None;
        }
        let live: Vec<u64> = model.iter().flatten().copied().collect();
        assert_eq!(arena.iter().copied().collect::<Vec<_>>(), live);
        assert_eq!(arena.iter().rev().copied().collect::<Vec<_>>(), {
            let mut r = live.clone();
            r.reverse();
            r
        });
        // Both ends at once meet in the middle without skipping or repeating.
        let mut it = arena.iter();
        let mut both = Vec::new();
        loop {
            match (it.next(), it.next_back()) {
                (Some(a), Some(b)) => both.extend([*a, *b]),
                (Some(a), None) | (None, Some(a)) => both.push(*a),
                (None, None) => break,
            }
        }
        both.sort_unstable();
        assert_eq!(both, live);
        assert_eq!(arena.live(), live.len());
        assert_eq!(arena.len(), model.len());
        for (i, m) in model.iter().enumerate() {
            assert_eq!(arena.get(i), m.as_ref());
        }
        assert!(arena.get(model.len()).is_none());
        // Pairs within and across pages, freed ones included.
        for (a, b) in [
            (0, 3 * PAGE),
            (3 * PAGE, 1),
            (2 * PAGE + 1, 2 * PAGE + 2),
            (1, PAGE - 1),
            (5 * PAGE, 5 * PAGE + 9),
        ] {
            let (x, y) = arena.pair_mut(a, b);
            assert_eq!((x.copied(), y.map(|v| *v)), (model[a], model[b]), "{a} {b}");
        }
        let freed: Vec<usize> = (0..arena.pages.len())
            .filter(|&p| arena.pages[p].is_none())
            .collect();
        assert!(
            [2, 3, 4].iter().all(|p| freed.contains(p)),
            "pages freed: {freed:?}"
        );
    }

    #[test]
    fn the_page_being_filled_survives_its_entries() {
        let mut arena = Arena::default();
        let a = arena.push(1);
        arena.evict(a);
        let b = arena.push(2);
        assert_eq!((arena.get(a), arena.get(b)), (None, Some(&2)));
        assert_eq!(arena.iter().copied().collect::<Vec<_>>(), [2]);
    }
}
