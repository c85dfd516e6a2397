"""Column store for orders and their lines while they are being generated."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Where an order comes from.
CHAIN, COMPANION, GUEST, TEST = range(4)


class Frame(dict):
    """Named numpy columns of equal length."""

    def __len__(self) -> int:  # number of rows, not of columns
        return len(next(iter(self.values()))) if dict.__len__(self) else 0

    def take(self, index) -> Frame:
        return Frame({name: col[index] for name, col in self.items()})

    @staticmethod
    def concat(frames: list[Frame]) -> Frame:
        names = list(frames[0])
        return Frame({name: np.concatenate([f[name] for f in frames]) for name in names})


@dataclass
class OrderBook:
    """Orders, and lines pointing at them by row number (`items["order"]`)."""

    orders: Frame
    items: Frame = field(default_factory=Frame)

    @property
    def n(self) -> int:
        return len(self.orders)

    def keep(self, mask: np.ndarray) -> OrderBook:
        """Only the orders in `mask`, with their lines (line order kept)."""
        new_index = np.cumsum(mask) - 1
        items = self.items.take(mask[self.items["order"]])
        items["order"] = new_index[items["order"]]
        return OrderBook(self.orders.take(mask), items)

    def reorder(self, order: np.ndarray) -> OrderBook:
        """Orders in the row order `order`; lines follow their orders, line order kept."""
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        items = self.items.take(np.lexsort((self.items["line"], rank[self.items["order"]])))
        items["order"] = rank[items["order"]]
        return OrderBook(self.orders.take(order), items)

    @staticmethod
    def concat(books: list[OrderBook]) -> OrderBook:
        offsets = np.cumsum([0] + [b.n for b in books[:-1]])
        items = []
        for book, offset in zip(books, offsets, strict=True):
            shifted = Frame(book.items)
            shifted["order"] = book.items["order"] + offset
            items.append(shifted)
        return OrderBook(Frame.concat([b.orders for b in books]), Frame.concat(items))
