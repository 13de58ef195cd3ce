"""RFC 6962 / RFC 9162 Merkle hashing: known answers, properties, compact range."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.verifier.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    MerkleError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS_FILE = Path(__file__).resolve().parent / "data" / "rfc6962_vectors.json"
SHARED_VECTORS_FILE = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "rfc6962_vectors.json"
VECTORS = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
LEAVES = [leaf_hash(bytes.fromhex(data)) for data in VECTORS["leaves_hex"]]
ROOTS = {int(size): bytes.fromhex(root) for size, root in VECTORS["roots"].items()}
INCLUSION = VECTORS["inclusion_proofs"]
CONSISTENCY = VECTORS["consistency_proofs"]

MAX_SIZE = 200
POOL = [leaf_hash(b"event %d" % i) for i in range(MAX_SIZE + 1)]


# Straight transcriptions of the recursive definitions in RFC 9162 §2.1, as an oracle.
def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_root(d: Sequence[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return node_hash(ref_root(d[:k]), ref_root(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_root(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_root(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], whole: bool) -> list[bytes]:
    if m == len(d):
        return [] if whole else [ref_root(d)]
    k = _k(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], whole), ref_root(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_root(d[:k])]


def flip(value: bytes, position: int = 0) -> bytes:
    changed = bytearray(value)
    changed[position % len(changed)] ^= 0x01
    return bytes(changed)


def hexes(values: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def vector_id(vector: dict[str, Any]) -> str:
    return "-".join(f"{k}{v}" for k, v in vector.items() if k != "proof")


# ---------------------------------------------------------------- known answers


def test_vendored_vectors_match_the_shared_copy() -> None:
    if not SHARED_VECTORS_FILE.exists():
        pytest.skip("the shared testdata directory is not next to this checkout")
    assert VECTORS_FILE.read_bytes() == SHARED_VECTORS_FILE.read_bytes()


def test_hash_definitions() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    assert EMPTY_ROOT.hex() == VECTORS["empty_tree_root"]
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", sorted(ROOTS))
def test_known_roots(size: int) -> None:
    assert root_from_leaf_hashes(LEAVES[:size]) == ROOTS[size]
    assert CompactRange().extend(LEAVES[:size]).root() == ROOTS[size]


@pytest.mark.parametrize("vector", INCLUSION, ids=vector_id)
def test_known_inclusion_proofs(vector: dict[str, Any]) -> None:
    index, size, proof = vector["leaf_index"], vector["tree_size"], hexes(vector["proof"])
    assert inclusion_proof(index, LEAVES[:size]) == proof
    assert verify_inclusion(LEAVES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize("vector", INCLUSION, ids=vector_id)
def test_corrupted_inclusion_proofs_are_rejected(vector: dict[str, Any]) -> None:
    index, size, proof = vector["leaf_index"], vector["tree_size"], hexes(vector["proof"])
    leaf, root = LEAVES[index], ROOTS[size]
    bad: list[tuple[bytes, int, int, list[bytes], bytes]] = [
        (flip(leaf), index, size, proof, root),
        (leaf, index, size, proof, flip(root)),
        (leaf, index, size, [*proof, root], root),
        (leaf, size, size, proof, root),
        (leaf, -1, size, proof, root),
    ]
    for i, element in enumerate(proof):
        bad.append((leaf, index, size, [*proof[:i], flip(element, 31), *proof[i + 1 :]], root))
    if proof:
        bad.append((leaf, index, size, proof[:-1], root))
        if len(proof) > 1:
            bad.append((leaf, index, size, proof[::-1], root))
        bad.append((leaf, index ^ 1, size, proof, root))
    for args in bad:
        assert not verify_inclusion(*args), args


@pytest.mark.parametrize("vector", CONSISTENCY, ids=vector_id)
def test_known_consistency_proofs(vector: dict[str, Any]) -> None:
    m, n, proof = vector["size1"], vector["size2"], hexes(vector["proof"])
    assert consistency_proof(m, LEAVES[:n]) == proof
    assert verify_consistency(m, n, ROOTS[m], ROOTS[n], proof)


@pytest.mark.parametrize("vector", CONSISTENCY, ids=vector_id)
def test_corrupted_consistency_proofs_are_rejected(vector: dict[str, Any]) -> None:
    m, n, proof = vector["size1"], vector["size2"], hexes(vector["proof"])
    old, new = ROOTS[m], ROOTS[n]
    other = ROOTS[m + 1] if m + 1 in ROOTS else ROOTS[m - 1]
    bad: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (m, n, flip(old), new, proof),
        (m, n, other, new, proof),
        (m, n, old, flip(new), proof),
        (m, n, old, new, [*proof, old]),
        (n, m, new, old, proof) if m != n else (m, n, old, flip(new), proof),
    ]
    for i, element in enumerate(proof):
        bad.append((m, n, old, new, [*proof[:i], flip(element, 7), *proof[i + 1 :]]))
    if proof:
        bad.append((m, n, old, new, proof[:-1]))
        bad.append((m + 1, n, old, new, proof))
    for args in bad:
        assert not verify_consistency(*args), args


# ---------------------------------------------------------------- edges and errors


def test_proof_generation_rejects_bad_arguments() -> None:
    with pytest.raises(MerkleError, match="outside a tree of 3 leaves"):
        inclusion_proof(3, LEAVES[:3])
    with pytest.raises(MerkleError):
        inclusion_proof(-1, LEAVES[:3])
    with pytest.raises(MerkleError):
        inclusion_proof(0, [])
    with pytest.raises(MerkleError, match=r"outside 0\.\.3"):
        consistency_proof(4, LEAVES[:3])
    with pytest.raises(MerkleError):
        consistency_proof(-1, LEAVES[:3])
    with pytest.raises(MerkleError, match="position 1"):
        root_from_leaf_hashes([LEAVES[0], b"short"])
    with pytest.raises(MerkleError):
        inclusion_proof(0, [LEAVES[0], b"x" * 33])
    with pytest.raises(MerkleError):
        consistency_proof(1, [LEAVES[0], b""])


def test_verifiers_reject_malformed_values_without_raising() -> None:
    root = ROOTS[2]
    proof = inclusion_proof(0, LEAVES[:2])
    assert not verify_inclusion(LEAVES[0], 0, 0, [], EMPTY_ROOT)
    assert not verify_inclusion(LEAVES[0][:31], 0, 2, proof, root)
    assert not verify_inclusion(LEAVES[0], 0, 2, [proof[0] + b"\x00"], root)
    assert not verify_inclusion(LEAVES[0], 0, 2, proof, root[:16])
    assert not verify_consistency(1, 2, ROOTS[1], root, [])
    assert not verify_consistency(-1, 2, ROOTS[1], root, proof)
    assert not verify_consistency(1, 2, ROOTS[1], root, [b"x"])


def test_consistency_with_the_empty_and_the_same_tree() -> None:
    assert consistency_proof(0, LEAVES) == []
    assert verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 8, ROOTS[1], ROOTS[8], [])
    assert not verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [ROOTS[1]])
    assert consistency_proof(8, LEAVES) == []
    assert verify_consistency(8, 8, ROOTS[8], ROOTS[8], [])
    assert not verify_consistency(8, 8, ROOTS[8], ROOTS[7], [])
    assert not verify_consistency(8, 8, ROOTS[8], ROOTS[8], [ROOTS[8]])


# ---------------------------------------------------------------- properties


@settings(max_examples=150, deadline=None)
@given(data=st.data(), size=st.integers(1, MAX_SIZE))
def test_every_inclusion_proof_verifies_and_any_flip_breaks_it(data: st.DataObject, size: int) -> None:
    leaves = POOL[:size]
    root = root_from_leaf_hashes(leaves)
    assert root == ref_root(leaves)
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(index, leaves)
    assert proof == ref_path(index, leaves)
    assert verify_inclusion(leaves[index], index, size, proof, root)

    byte = data.draw(st.integers(0, HASH_SIZE - 1), label="byte")
    assert not verify_inclusion(flip(leaves[index], byte), index, size, proof, root)
    assert not verify_inclusion(leaves[index], index, size, proof, flip(root, byte))
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1), label="element")
        broken = [*proof[:at], flip(proof[at], byte), *proof[at + 1 :]]
        assert not verify_inclusion(leaves[index], index, size, broken, root)
    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="other")
        assert not verify_inclusion(leaves[other], index, size, proof, root)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), new_size=st.integers(0, MAX_SIZE))
def test_every_consistency_proof_verifies_and_a_wrong_root_fails(data: st.DataObject, new_size: int) -> None:
    old_size = data.draw(st.integers(0, new_size), label="old_size")
    leaves = POOL[:new_size]
    old_root = root_from_leaf_hashes(leaves[:old_size])
    new_root = root_from_leaf_hashes(leaves)
    proof = consistency_proof(old_size, leaves)
    if 0 < old_size < new_size:
        assert proof == ref_subproof(old_size, leaves, True)
    else:
        assert proof == []
    assert verify_consistency(old_size, new_size, old_root, new_root, proof)

    byte = data.draw(st.integers(0, HASH_SIZE - 1), label="byte")
    assert not verify_consistency(old_size, new_size, flip(old_root, byte), new_root, proof)
    if old_size > 0:
        # Every tree is consistent with the empty tree, whatever its root.
        assert not verify_consistency(old_size, new_size, old_root, flip(new_root, byte), proof)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1), label="element")
        broken = [*proof[:at], flip(proof[at], byte), *proof[at + 1 :]]
        assert not verify_consistency(old_size, new_size, old_root, new_root, broken)
    if old_size < new_size:
        # A log that rewrote history: same sizes, one old leaf replaced.
        forged = list(leaves)
        forged[data.draw(st.integers(0, new_size - 1), label="forged")] = POOL[MAX_SIZE]
        forged_root = root_from_leaf_hashes(forged)
        if old_size > 0 and forged[:old_size] != leaves[:old_size]:
            forged_proof = consistency_proof(old_size, forged)
            assert not verify_consistency(old_size, new_size, old_root, forged_root, forged_proof)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=MAX_SIZE))
def test_compact_range_root_matches_at_every_size(entries: list[bytes]) -> None:
    leaves = [leaf_hash(e) for e in entries]
    compact = CompactRange()
    assert compact.root() == EMPTY_ROOT
    for size, leaf in enumerate(leaves, start=1):
        compact = compact.append(leaf)
        assert compact.size == size
        assert len(compact.hashes) == bin(size).count("1")
        assert compact.root() == root_from_leaf_hashes(leaves[:size])
    assert compact == CompactRange().extend(leaves)
    assert compact.root() == ref_root(leaves)


@settings(max_examples=100, deadline=None)
@given(size=st.integers(0, MAX_SIZE), more=st.integers(0, 20))
def test_compact_range_json_round_trip(size: int, more: int) -> None:
    compact = CompactRange().extend(POOL[:size])
    text = compact.to_json()
    restored = CompactRange.from_json(text)
    assert restored == compact
    assert json.loads(text)["size"] == size
    # A projection reloaded from its row keeps appending where it left off.
    tail = POOL[size : size + more]
    assert restored.extend(tail).root() == root_from_leaf_hashes(POOL[: size + len(tail)])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '{"size": 1}',
        '{"hashes": []}',
        '{"size": 1, "hashes": []}',
        '{"size": 0, "hashes": ["' + "00" * 32 + '"]}',
        '{"size": 1, "hashes": ["zz"]}',
        '{"size": 1, "hashes": ["' + "00" * 31 + '"]}',
        '{"size": 1, "hashes": [1]}',
        '{"size": -1, "hashes": []}',
        '{"size": true, "hashes": ["' + "00" * 32 + '"]}',
        '{"size": "1", "hashes": ["' + "00" * 32 + '"]}',
    ],
)
def test_compact_range_rejects_malformed_json(text: str) -> None:
    with pytest.raises(MerkleError):
        CompactRange.from_json(text)


def test_compact_range_rejects_bad_leaf_hash() -> None:
    with pytest.raises(MerkleError, match="Leaf hash 1"):
        CompactRange().extend([LEAVES[0], b"short"])


@pytest.mark.slow
def test_a_million_leaves() -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(1_000_000)]
    started = time.perf_counter()
    root = root_from_leaf_hashes(leaves)
    elapsed = time.perf_counter() - started
    assert CompactRange().extend(leaves).root() == root
    index = 765_432
    proof = inclusion_proof(index, leaves)
    assert len(proof) == 20
    assert verify_inclusion(leaves[index], index, len(leaves), proof, root)
    # About 0.7 s on a laptop; the bound only catches an accidentally quadratic algorithm.
    assert elapsed < 20
