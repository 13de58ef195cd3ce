"""Merkle tree hashing of RFC 6962 / RFC 9162 over SHA-256.

A leaf hash is SHA-256(0x00 || data) and an interior node is SHA-256(0x01 || left || right).
The tree over n leaves splits at the largest power of two smaller than n. Leaf indexes are
0-based. Proof generation takes the full list of leaf hashes; proof verification takes only
hashes and sizes, so an auditor needs nothing else. ``CompactRange`` keeps the O(log n) hashes
needed to append leaves one at a time and read the current root.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from audit.verifier.errors import AuditError
from audit.verifier.i18n import _

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


class MerkleError(AuditError):
    """Malformed input: an index or size out of range, a hash of the wrong length..."""


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Root of the tree over ``hashes`` (EMPTY_ROOT for no leaves)."""
    _check_hashes(hashes, "leaf hash")
    return _root(hashes, 0, len(hashes))


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Audit path of RFC 9162 §2.1.3.1 for leaf ``index`` in the tree over ``leaf_hashes``."""
    size = len(leaf_hashes)
    if not 0 <= index < size:
        message = _("Leaf index {index} is outside a tree of {size} leaves.").format(index=index, size=size)
        raise MerkleError(message)
    _check_hashes(leaf_hashes, "leaf hash")
    # Walk down from the root, collecting the sibling subtree at each level; RFC order is
    # bottom-up, so the list is reversed at the end.
    proof: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        split = lo + _largest_power_of_two_below(hi - lo)
        if index < split:
            proof.append(_root(leaf_hashes, split, hi))
            hi = split
        else:
            proof.append(_root(leaf_hashes, lo, split))
            lo = split
    proof.reverse()
    return proof


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show leaf ``index`` of a tree of ``size`` has ``root``?

    Never raises on bad values: any malformed input is simply a proof that does not verify.
    """
    if not 0 <= index < size or not _all_hashes([leaf_hash, root, *proof]):
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Consistency proof of RFC 9162 §2.1.4.1 from the first ``old_size`` leaves to all of them.

    Empty when ``old_size`` is 0 or equals the current size.
    """
    size = len(leaf_hashes)
    if not 0 <= old_size <= size:
        message = _("Old tree size {old} is outside 0..{size}, the current tree size.").format(
            old=old_size, size=size
        )
        raise MerkleError(message)
    _check_hashes(leaf_hashes, "leaf hash")
    return [_root(leaf_hashes, lo, hi) for lo, hi in consistency_ranges(old_size, size)]


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges ``[lo, hi)`` whose subtree roots, in this order, make the consistency proof
    from ``old_size`` to ``new_size`` (RFC 9162 §2.1.4.1).

    The ranges are disjoint, so a reader streaming the leaves once can build the proof with one
    ``CompactRange`` per range instead of keeping every leaf hash.
    """
    if not 0 <= old_size <= new_size:
        message = _("Old tree size {old} is outside 0..{size}, the current tree size.").format(
            old=old_size, size=new_size
        )
        raise MerkleError(message)
    if old_size in (0, new_size):
        return []
    # Iterative SUBPROOF(m, D[lo:hi], whole): the pieces are collected top-down and reversed.
    ranges: list[tuple[int, int]] = []
    m, lo, hi, whole = old_size, 0, new_size, True
    while m != hi - lo:
        k = _largest_power_of_two_below(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            m -= k
            lo += k
            whole = False
    if not whole:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of ``old_size`` a prefix of the tree of ``new_size``?

    Equal sizes need an empty proof and equal roots; an empty old tree needs an empty proof and
    ``old_root == EMPTY_ROOT``. Never raises on bad values.
    """
    if not 0 <= old_size <= new_size or not _all_hashes([old_root, new_root, *proof]):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


@dataclass(frozen=True)
class CompactRange:
    """Append-only accumulator: the roots of the perfect subtrees that make up ``size`` leaves.

    ``hashes`` holds one hash per set bit of ``size``, largest subtree first, so appending a
    leaf and reading the root cost O(log n) without the earlier leaves. Instances are values:
    ``append`` and ``extend`` return a new range.
    """

    size: int = 0
    hashes: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if self.size < 0:
            message = _("A compact range cannot have a negative size ({size}).").format(size=self.size)
            raise MerkleError(message)
        expected = self.size.bit_count()
        if len(self.hashes) != expected:
            message = _("A compact range of {size} leaves holds {expected} hashes, not {count}.").format(
                size=self.size, expected=expected, count=len(self.hashes)
            )
            raise MerkleError(message)
        _check_hashes(self.hashes, "subtree hash")

    def append(self, leaf_hash: bytes) -> CompactRange:
        return self.extend((leaf_hash,))

    def extend(self, leaf_hashes: Iterable[bytes]) -> CompactRange:
        size = self.size
        stack = list(self.hashes)
        for h in leaf_hashes:
            if len(h) != HASH_SIZE:
                message = _("Leaf hash {n} is {length} bytes long instead of {size}.").format(
                    n=size, length=len(h), size=HASH_SIZE
                )
                raise MerkleError(message)
            # Each trailing 1 bit of the old size is a full subtree of the same height as the
            # one being carried up, so they merge, as in binary addition.
            n = size
            while n & 1:
                h = node_hash(stack.pop(), h)
                n >>= 1
            stack.append(h)
            size += 1
        return CompactRange(size, tuple(stack))

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = node_hash(h, r)
        return r

    def to_json(self) -> str:
        return json.dumps(
            {"size": self.size, "hashes": [h.hex() for h in self.hashes]}, separators=(",", ":")
        )

    @classmethod
    def from_json(cls, text: str) -> CompactRange:
        try:
            data = json.loads(text)
            size = data["size"]
            hashes = tuple(bytes.fromhex(h) for h in data["hashes"])
        except (ValueError, TypeError, KeyError) as exc:
            message = _("The stored compact range is not JSON with a size and hex hashes ({error}).").format(
                error=exc
            )
            raise MerkleError(message) from exc
        if type(size) is not int:
            message = _("The stored compact range size {size!r} is not an integer.").format(size=size)
            raise MerkleError(message)
        return cls(size, hashes)


def _largest_power_of_two_below(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _root(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """Root over hashes[lo:hi], level by level: an odd last node is carried up unchanged."""
    if hi <= lo:
        return EMPTY_ROOT
    level = hashes[lo:hi] if lo or hi != len(hashes) else hashes
    sha = _sha256
    while len(level) > 1:
        n = len(level)
        up = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, n - 1, 2)]
        if n & 1:
            up.append(level[-1])
        level = up
    return level[0]


def _all_hashes(values: Sequence[bytes]) -> bool:
    return all(isinstance(v, bytes) and len(v) == HASH_SIZE for v in values)


def _check_hashes(hashes: Sequence[bytes], what: str) -> None:
    for i, h in enumerate(hashes):
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            message = (
                _("The subtree hash at position {n} is not {size} bytes.")
                if what == "subtree hash"
                else _("The leaf hash at position {n} is not {size} bytes.")
            ).format(n=i, size=HASH_SIZE)
            raise MerkleError(message)
