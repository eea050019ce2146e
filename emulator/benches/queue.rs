//! The event queue under the engine's load: 1,000 devices each sending once
//! a second (staggered), every request answered a few milliseconds later,
//! and a few far timers. Compares the timing wheel (`EventQueue`) with the
//! standard binary heap ordered by (time, insertion) it replaced; both pop
//! the same events in the same order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mcc_emu::engine::queue::EventQueue;

const DEVICES: u64 = 1_000;
const SECOND_NS: u64 = 1_000_000_000;
/// Events popped per iteration: 100 emulated seconds.
const POPS: usize = 200_000;

/// What an event asks for next: `Some(delay)` to schedule one more.
fn follow_up(event: u64, at_ns: u64) -> Option<u64> {
    match event % 3 {
        // A send: the next send one second later, and its answer soon.
        0 => Some(SECOND_NS),
        // An answer, a few milliseconds after its send; nothing follows.
        1 => None,
        // A rare far timer.
        _ => Some(30 * SECOND_NS + at_ns % 7),
    }
}

fn run_wheel() -> u64 {
    let mut queue = EventQueue::new();
    for d in 0..DEVICES {
        queue.push(d * SECOND_NS / DEVICES, 3 * d);
    }
    queue.push(5 * SECOND_NS, 2);
    let mut checksum = 0u64;
    for _ in 0..POPS {
        let Some((at, event)) = queue.pop() else {
            break;
        };
        checksum = checksum.wrapping_mul(31).wrapping_add(at ^ event);
        if let Some(delay) = follow_up(event, at) {
            queue.push(at + delay, event);
        }
        if event % 3 == 0 {
            queue.push(at + 3_000_000 + (at % 5_000_000), event + 1);
        }
    }
    checksum
}

fn run_heap() -> u64 {
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<Reverse<(u64, u64, u64)>>, at: u64, event: u64| {
        heap.push(Reverse((at, seq, event)));
        seq += 1;
    };
    for d in 0..DEVICES {
        push(&mut heap, d * SECOND_NS / DEVICES, 3 * d);
    }
    push(&mut heap, 5 * SECOND_NS, 2);
    let mut checksum = 0u64;
    for _ in 0..POPS {
        let Some(Reverse((at, _, event))) = heap.pop() else {
            break;
        };
        checksum = checksum.wrapping_mul(31).wrapping_add(at ^ event);
        if let Some(delay) = follow_up(event, at) {
            push(&mut heap, at + delay, event);
        }
        if event % 3 == 0 {
            push(&mut heap, at + 3_000_000 + (at % 5_000_000), event + 1);
        }
    }
    checksum
}

fn queues(c: &mut Criterion) {
    assert_eq!(run_wheel(), run_heap(), "both pop the same events in order");
    let mut group = c.benchmark_group("event queue, 200k pops of the engine's load");
    group.sample_size(20);
    group.bench_function("timing wheel", |b| b.iter(|| black_box(run_wheel())));
    group.bench_function("binary heap", |b| b.iter(|| black_box(run_heap())));
    group.finish();
}

criterion_group!(benches, queues);
criterion_main!(benches);
