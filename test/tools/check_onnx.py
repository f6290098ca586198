#!/usr/bin/env python3
"""Independent validation of ganc's ONNX files with the reference `onnx` package (Debian: python3-onnx).

usage: check_onnx.py FILE.onnx...

For each file:
  1. onnx.checker.check_model(model, full_check=True): structure, opset-17 op schemas, types, and ONNX's own strict
     shape inference over the recorded value_info (a recorded shape that contradicts it is an error);
  2. IR version 8, one opset import (default domain, version 17), every node in the default domain;
  3. ONNX's shape inference run again from the graph inputs alone (value_info and output shapes removed): every shape it infers must
     equal the shape ganc recorded for that value (a size ONNX leaves symbolic, `unk__N`, e.g. a Loop's scan
     outputs, counts as not inferable).
Prints one line per file; exit status 1 if any file fails.
"""
import sys

import onnx
from onnx import shape_inference


def dims(t):
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    out = []
    for d in t.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            out.append(d.dim_value)
        elif d.HasField("dim_param") and not d.dim_param.startswith("unk__"):
            out.append(d.dim_param)
        else:
            out.append("?")
    return out


def check(path):
    problems = []
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    if m.ir_version != 8:
        problems.append(f"ir_version {m.ir_version}, expected 8")
    opsets = [(o.domain, o.version) for o in m.opset_import]
    if opsets != [("", 17)]:
        problems.append(f"opset_import {opsets}, expected [('', 17)]")
    odd = sorted({f"{n.domain}::{n.op_type}" for n in m.graph.node if n.domain not in ("", "ai.onnx")})
    if odd:
        problems.append(f"ops outside the default domain: {', '.join(odd)}")

    recorded = {v.name: dims(v.type) for v in list(m.graph.value_info) + list(m.graph.output)}
    bare = onnx.ModelProto()
    bare.CopyFrom(m)
    del bare.graph.value_info[:]
    for o in bare.graph.output:
        o.type.tensor_type.ClearField("shape")
    inferred = shape_inference.infer_shapes(bare, check_type=True, strict_mode=True)
    seen = {v.name: dims(v.type) for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    compared = unknown = 0
    for n in m.graph.node:
        for o in n.output:
            if not o:
                continue
            want, got = recorded.get(o), seen.get(o)
            if want is None:
                problems.append(f"{n.op_type} output {o} has no recorded shape")
                continue
            if got is None or "?" in got:
                unknown += 1
                continue
            compared += 1
            if got != want:
                problems.append(f"{n.op_type} output {o}: ganc recorded {want}, ONNX infers {got}")
    return problems, compared, unknown, len(m.graph.node)


def main(files):
    bad = 0
    for f in files:
        try:
            problems, compared, unknown, nodes = check(f)
        except Exception as e:  # checker / inference errors
            problems, compared, unknown, nodes = [f"{type(e).__name__}: {' '.join(str(e).split())}"], 0, 0, 0
        if problems:
            bad += 1
            print(f"FAIL {f}: " + "; ".join(problems[:10]) + (f" (+{len(problems) - 10} more)" if len(problems) > 10 else ""))
        else:
            print(f"ok {f}: {nodes} nodes, onnx {onnx.__version__} check_model(full_check) passed, "
                  f"{compared} inferred shapes match, {unknown} not inferable")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
