//! Ordered parallel map over independent items on scoped threads.
//!
//! Used where a step is made of independent pieces (the analysis excerpts of a track, the parts of a chunk): each
//! piece is computed by exactly the same code whichever thread takes it, and the results come
//! back in item order, so the outcome does not depend on the thread count. A small helper over
//! `std::thread::scope` rather than a thread-pool crate: the pieces are few (8) and coarse
//! (milliseconds each), and the library keeps no pool of its own outside the prefetcher.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Threads used when a caller asks for 0: the available cores.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// `threads`, or [`default_threads`] for 0.
pub fn resolve(threads: usize) -> usize {
    match threads {
        0 => default_threads(),
        n => n,
    }
}

/// `f(&mut state, i)` for `i` in `0..n`, on up to `threads` threads, each with its own `state`
/// from `init` (a decoder, a buffer). Results in index order. With one thread (or one item)
/// everything runs on the caller's thread.
pub fn map_indexed<S, R, I, F>(n: usize, threads: usize, init: I, f: F) -> Vec<R>
where
    R: Send,
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize) -> R + Sync,
{
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        let mut state = init();
        return (0..n).map(|i| f(&mut state, i)).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..n).map(|_| None).collect());
    let work = || {
        let mut state = None;
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            let state = state.get_or_insert_with(&init);
            let r = f(state, i);
            results
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(r);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            // A thread that cannot be started leaves its share to the others.
            let _ = std::thread::Builder::new()
                .name("auralis-analysis".into())
                .spawn_scoped(scope, work);
        }
        work();
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .map(|r| r.expect("every index computed"))
        .collect()
}

/// `f(&mut item)` for every item, on up to `threads` threads, in place: the items are moved
/// in and come back in order, so large buffers are transformed without a copy.
pub fn map_owned<T, F>(items: Vec<T>, threads: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(&mut T) + Sync,
{
    map_owned_with(items, threads, f)
        .into_iter()
        .map(|(item, ())| item)
        .collect()
}

/// [`map_owned`] where `f` also returns something about the item (a measurement of the buffer
/// it just transformed, while the buffer is still in cache): `(item, result)` in order.
pub(crate) fn map_owned_with<T, R, F>(items: Vec<T>, threads: usize, f: F) -> Vec<(T, R)>
where
    T: Send,
    R: Send,
    F: Fn(&mut T) -> R + Sync,
{
    let cells: Vec<Mutex<Option<T>>> = items.into_iter().map(|x| Mutex::new(Some(x))).collect();
    map_indexed(
        cells.len(),
        threads,
        || (),
        |(), i| {
            let mut item = cells[i]
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
                .expect("each index is taken once");
            let r = f(&mut item);
            (item, r)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::{map_indexed, map_owned};

    #[test]
    fn owned_items_are_changed_in_place_and_come_back_in_order() {
        for threads in [1, 2, 3, 8] {
            let items: Vec<Vec<u32>> = (0..9u32).map(|i| vec![i; 1000]).collect();
            let before: Vec<*const u32> = items.iter().map(|v| v.as_ptr()).collect();
            let after = map_owned(items, threads, |v| {
                v.iter_mut().for_each(|x| *x = *x * 2 + 1)
            });
            for (i, v) in after.iter().enumerate() {
                assert!(
                    v.iter().all(|&x| x == 2 * i as u32 + 1),
                    "threads {threads}"
                );
            }
            // The same buffers, not copies.
            let now: Vec<*const u32> = after.iter().map(|v| v.as_ptr()).collect();
            assert_eq!(now, before, "threads {threads}");
        }
    }

    #[test]
    fn results_in_order_for_any_thread_count() {
        let expected: Vec<u64> = (0..37u64).map(|i| i * i + 1).collect();
        for threads in [0, 1, 2, 3, 8, 64] {
            let got = map_indexed(37, threads, || 1u64, |one, i| (i as u64).pow(2) + *one);
            assert_eq!(got, expected, "threads {threads}");
        }
        assert!(map_indexed(0, 4, || (), |(), i| i).is_empty());
    }

    #[test]
    fn each_thread_uses_the_state_it_made_itself() {
        // A state made on one thread and used on another (or shared) would fail this.
        let got = map_indexed(
            200,
            4,
            || std::thread::current().id(),
            |made_on, _| *made_on == std::thread::current().id(),
        );
        assert_eq!(got.len(), 200);
        assert!(got.iter().all(|&own| own));
    }
}
