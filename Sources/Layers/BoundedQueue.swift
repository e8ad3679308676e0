import Dispatch
import Synchronization

/// A queue of at most `capacity` items from one producer thread to one consumer: `put` waits
/// while it is full, `take` while it is empty. It is how a stream's work is split over two
/// threads (inflating and hashing, reading and checking) with memory bounded by the capacity.
public final class BoundedQueue<Item: Sendable>: Sendable {
    private let items = Mutex<[Item]>([])
    private let filled = DispatchSemaphore(value: 0)
    private let free: DispatchSemaphore

    /// A queue that holds at most `capacity` items.
    public init(capacity: Int) { free = DispatchSemaphore(value: max(1, capacity)) }

    /// Adds `item`, waiting while the queue is full.
    public func put(_ item: Item) {
        free.wait()
        items.withLock { $0.append(item) }
        filled.signal()
    }

    /// Removes the oldest item, waiting while the queue is empty.
    public func take() -> Item {
        filled.wait()
        let item = items.withLock { $0.removeFirst() }
        free.signal()
        return item
    }
}
