#!/usr/bin/env python3
"""Turns the golden frames (request frames captured from real clients, without
their size prefix) into seed corpora, one per fuzz target, in the input layout
each target expects.

    seed_corpus.py FRAMES_DIR CORPUS_ROOT
"""
import pathlib
import struct
import sys


def body_seed(frame):
    """message_body_fuzz input: int16 key, int16 version, direction byte, body."""
    if len(frame) < 10:
        return None
    client_id_length = struct.unpack(">h", frame[8:10])[0]
    body = frame[10 + max(client_id_length, 0):]
    return frame[0:4] + b"\x00" + body


def main(frames_dir, corpus_root):
    root = pathlib.Path(corpus_root)
    targets = {
        "frame_fuzz": lambda f: struct.pack(">i", len(f)) + f,
        "request_header_fuzz": lambda f: f,
        "message_body_fuzz": body_seed,
    }
    for target in targets:
        (root / target).mkdir(parents=True, exist_ok=True)
    (root / "record_batch_fuzz").mkdir(parents=True, exist_ok=True)
    for path in sorted(pathlib.Path(frames_dir).rglob("*.bin")):
        frame = path.read_bytes()
        name = f"{path.parent.name}-{path.stem}"
        for target, convert in targets.items():
            seed = convert(frame)
            if seed is not None:
                (root / target / name).write_bytes(seed)
        # Produce requests carry record batches; producers send base offset 0,
        # so the first eight zero bytes start the first batch.
        if "-Produce-" in path.name:
            (root / "record_batch_fuzz" / name).write_bytes(frame[frame.find(b"\x00\x00\x00\x00\x00\x00\x00\x00"):])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
