"""The pinned dependency set works together in one process, and the committed gRPC stubs are fresh."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

from service import protogen


def test_ortools_highspy_pulp_and_stubs_in_one_process() -> None:
    """ortools 9.15 and highspy share symbols of HiGHS: both must import and solve side by side (and the
    generated stubs must import under the pinned protobuf runtime)."""
    import highspy
    import pulp
    from ortools.sat.python import cp_model

    from service._proto.allot.v1 import allot_pb2, allot_pb2_grpc

    m = cp_model.CpModel()
    x = m.new_int_var(0, 10, "x")
    y = m.new_int_var(0, 10, "y")
    m.add(2 * x + 3 * y <= 12)
    m.maximize(x + y)
    s = cp_model.CpSolver()
    s.parameters.num_workers = 1
    assert s.solve(m) == cp_model.OPTIMAL
    assert s.objective_value == 6

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.addVars(2, [0, 0], [10, 10])
    h.changeColsIntegrality(2, [0, 1], [highspy.HighsVarType.kInteger] * 2)
    h.changeColsCost(2, [0, 1], [-1, -1])
    h.addRow(-highspy.kHighsInf, 12, 2, [0, 1], [2, 3])
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    assert round(h.getInfo().objective_function_value) == -6

    prob = pulp.LpProblem("t", pulp.LpMaximize)
    a = pulp.LpVariable("a", 0, 10, cat="Integer")
    b = pulp.LpVariable("b", 0, 10, cat="Integer")
    prob += a + b
    prob += 2 * a + 3 * b <= 12
    prob.solve(pulp.PULP_CBC_CMD(msg=False))
    assert pulp.value(prob.objective) == 6

    assert allot_pb2.SolveRequest(options=allot_pb2.SolveOptions(solver="auto")).options.solver == "auto"
    assert hasattr(allot_pb2_grpc, "AllotmentStub")


def test_generated_stubs_are_not_stale(tmp_path: Path) -> None:
    """Regenerating from protos/ must reproduce the committed stubs byte for byte (run `make proto`).

    protoc runs in a subprocess: grpc_tools' bundled libprotobuf aborts when loaded into a process that
    already holds ortools' copy."""
    subprocess.run([sys.executable, "-m", "service.protogen", str(tmp_path)], check=True, capture_output=True)
    fresh = sorted(p for p in tmp_path.rglob("*") if p.suffix in (".py", ".pyi") and p.name != "__init__.py")
    assert fresh, "protoc produced nothing"
    for path in fresh:
        committed = protogen.OUT_DIR / path.relative_to(tmp_path)
        assert committed.exists(), f"{committed} missing: run `make proto`"
        assert filecmp.cmp(path, committed, shallow=False), f"{committed} is stale: run `make proto`"
