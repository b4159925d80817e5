from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATUS_UNSPECIFIED: _ClassVar[Status]
    OPTIMAL: _ClassVar[Status]
    FEASIBLE: _ClassVar[Status]
    INFEASIBLE: _ClassVar[Status]
    NO_SOLUTION: _ClassVar[Status]
    INVALID: _ClassVar[Status]
    ERROR: _ClassVar[Status]

class Limit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIMIT_UNSPECIFIED: _ClassVar[Limit]
    LIMIT_NONE: _ClassVar[Limit]
    LIMIT_TIME: _ClassVar[Limit]
    LIMIT_CANCELLED: _ClassVar[Limit]
    LIMIT_GAP_TARGET: _ClassVar[Limit]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_QUEUED: _ClassVar[JobState]
    JOB_RUNNING: _ClassVar[JobState]
    JOB_DONE: _ClassVar[JobState]
    JOB_CANCELLED: _ClassVar[JobState]
    JOB_FAILED: _ClassVar[JobState]
STATUS_UNSPECIFIED: Status
OPTIMAL: Status
FEASIBLE: Status
INFEASIBLE: Status
NO_SOLUTION: Status
INVALID: Status
ERROR: Status
LIMIT_UNSPECIFIED: Limit
LIMIT_NONE: Limit
LIMIT_TIME: Limit
LIMIT_CANCELLED: Limit
LIMIT_GAP_TARGET: Limit
JOB_STATE_UNSPECIFIED: JobState
JOB_QUEUED: JobState
JOB_RUNNING: JobState
JOB_DONE: JobState
JOB_CANCELLED: JobState
JOB_FAILED: JobState

class SolveOptions(_message.Message):
    __slots__ = ("solver", "time_limit_s", "gap_target", "seed", "deterministic", "workers")
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    GAP_TARGET_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    DETERMINISTIC_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    solver: str
    time_limit_s: float
    gap_target: float
    seed: int
    deterministic: bool
    workers: int
    def __init__(self, solver: _Optional[str] = ..., time_limit_s: _Optional[float] = ..., gap_target: _Optional[float] = ..., seed: _Optional[int] = ..., deterministic: _Optional[bool] = ..., workers: _Optional[int] = ...) -> None: ...

class SolveRequest(_message.Message):
    __slots__ = ("instance", "options", "request_id")
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    instance: Instance
    options: SolveOptions
    request_id: str
    def __init__(self, instance: _Optional[_Union[Instance, _Mapping]] = ..., options: _Optional[_Union[SolveOptions, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class SolveResponse(_message.Message):
    __slots__ = ("problem", "instance_name", "status", "limit", "objective", "bound", "gap", "solver", "bound_source", "wall_time_s", "message", "solution", "terms", "stats")
    class TermsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class StatsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    BOUND_SOURCE_FIELD_NUMBER: _ClassVar[int]
    WALL_TIME_S_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SOLUTION_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    problem: str
    instance_name: str
    status: Status
    limit: Limit
    objective: float
    bound: float
    gap: float
    solver: str
    bound_source: str
    wall_time_s: float
    message: str
    solution: Solution
    terms: _containers.ScalarMap[str, float]
    stats: _containers.ScalarMap[str, str]
    def __init__(self, problem: _Optional[str] = ..., instance_name: _Optional[str] = ..., status: _Optional[_Union[Status, str]] = ..., limit: _Optional[_Union[Limit, str]] = ..., objective: _Optional[float] = ..., bound: _Optional[float] = ..., gap: _Optional[float] = ..., solver: _Optional[str] = ..., bound_source: _Optional[str] = ..., wall_time_s: _Optional[float] = ..., message: _Optional[str] = ..., solution: _Optional[_Union[Solution, _Mapping]] = ..., terms: _Optional[_Mapping[str, float]] = ..., stats: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("elapsed_s", "solver", "objective", "bound", "gap", "solution")
    ELAPSED_S_FIELD_NUMBER: _ClassVar[int]
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    SOLUTION_FIELD_NUMBER: _ClassVar[int]
    elapsed_s: float
    solver: str
    objective: float
    bound: float
    gap: float
    solution: Solution
    def __init__(self, elapsed_s: _Optional[float] = ..., solver: _Optional[str] = ..., objective: _Optional[float] = ..., bound: _Optional[float] = ..., gap: _Optional[float] = ..., solution: _Optional[_Union[Solution, _Mapping]] = ...) -> None: ...

class SolveUpdate(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: Progress
    result: SolveResponse
    def __init__(self, progress: _Optional[_Union[Progress, _Mapping]] = ..., result: _Optional[_Union[SolveResponse, _Mapping]] = ...) -> None: ...

class ValidateRequest(_message.Message):
    __slots__ = ("instance", "solution")
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    SOLUTION_FIELD_NUMBER: _ClassVar[int]
    instance: Instance
    solution: Solution
    def __init__(self, instance: _Optional[_Union[Instance, _Mapping]] = ..., solution: _Optional[_Union[Solution, _Mapping]] = ...) -> None: ...

class FieldViolation(_message.Message):
    __slots__ = ("field", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    description: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ValidateResponse(_message.Message):
    __slots__ = ("valid", "problem", "violations", "objective", "solution_violations")
    VALID_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    SOLUTION_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    problem: str
    violations: _containers.RepeatedCompositeFieldContainer[FieldViolation]
    objective: float
    solution_violations: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, valid: _Optional[bool] = ..., problem: _Optional[str] = ..., violations: _Optional[_Iterable[_Union[FieldViolation, _Mapping]]] = ..., objective: _Optional[float] = ..., solution_violations: _Optional[_Iterable[str]] = ...) -> None: ...

class ListSolversRequest(_message.Message):
    __slots__ = ("problem",)
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    problem: str
    def __init__(self, problem: _Optional[str] = ...) -> None: ...

class SolverInfo(_message.Message):
    __slots__ = ("problem", "name", "kind", "description")
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    problem: str
    name: str
    kind: str
    description: str
    def __init__(self, problem: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ListSolversResponse(_message.Message):
    __slots__ = ("solvers",)
    SOLVERS_FIELD_NUMBER: _ClassVar[int]
    solvers: _containers.RepeatedCompositeFieldContainer[SolverInfo]
    def __init__(self, solvers: _Optional[_Iterable[_Union[SolverInfo, _Mapping]]] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ("solve", "request_id", "priority")
    SOLVE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    solve: SolveRequest
    request_id: str
    priority: int
    def __init__(self, solve: _Optional[_Union[SolveRequest, _Mapping]] = ..., request_id: _Optional[str] = ..., priority: _Optional[int] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "request_id", "state", "problem", "priority", "submitted_at", "started_at", "finished_at", "progress", "result", "message")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    request_id: str
    state: JobState
    problem: str
    priority: int
    submitted_at: float
    started_at: float
    finished_at: float
    progress: Progress
    result: SolveResponse
    message: str
    def __init__(self, id: _Optional[str] = ..., request_id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., problem: _Optional[str] = ..., priority: _Optional[int] = ..., submitted_at: _Optional[float] = ..., started_at: _Optional[float] = ..., finished_at: _Optional[float] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., result: _Optional[_Union[SolveResponse, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class WaitJobRequest(_message.Message):
    __slots__ = ("id", "timeout_s")
    ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    id: str
    timeout_s: float
    def __init__(self, id: _Optional[str] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("state", "limit")
    STATE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    state: JobState
    limit: int
    def __init__(self, state: _Optional[_Union[JobState, str]] = ..., limit: _Optional[int] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ...) -> None: ...

class PostFilterRequest(_message.Message):
    __slots__ = ("nodes", "pods", "pod", "options", "solve", "request_id")
    NODES_FIELD_NUMBER: _ClassVar[int]
    PODS_FIELD_NUMBER: _ClassVar[int]
    POD_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    SOLVE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedScalarFieldContainer[str]
    pods: _containers.RepeatedScalarFieldContainer[str]
    pod: str
    options: PackingOptions
    solve: SolveOptions
    request_id: str
    def __init__(self, nodes: _Optional[_Iterable[str]] = ..., pods: _Optional[_Iterable[str]] = ..., pod: _Optional[str] = ..., options: _Optional[_Union[PackingOptions, _Mapping]] = ..., solve: _Optional[_Union[SolveOptions, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class Victim(_message.Message):
    __slots__ = ("pod", "node")
    POD_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    pod: str
    node: str
    def __init__(self, pod: _Optional[str] = ..., node: _Optional[str] = ...) -> None: ...

class PostFilterResponse(_message.Message):
    __slots__ = ("result", "nominated_node", "victims", "nominations", "evictions")
    class NominationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RESULT_FIELD_NUMBER: _ClassVar[int]
    NOMINATED_NODE_FIELD_NUMBER: _ClassVar[int]
    VICTIMS_FIELD_NUMBER: _ClassVar[int]
    NOMINATIONS_FIELD_NUMBER: _ClassVar[int]
    EVICTIONS_FIELD_NUMBER: _ClassVar[int]
    result: SolveResponse
    nominated_node: str
    victims: _containers.RepeatedCompositeFieldContainer[Victim]
    nominations: _containers.ScalarMap[str, str]
    evictions: _containers.RepeatedCompositeFieldContainer[Victim]
    def __init__(self, result: _Optional[_Union[SolveResponse, _Mapping]] = ..., nominated_node: _Optional[str] = ..., victims: _Optional[_Iterable[_Union[Victim, _Mapping]]] = ..., nominations: _Optional[_Mapping[str, str]] = ..., evictions: _Optional[_Iterable[_Union[Victim, _Mapping]]] = ...) -> None: ...

class Instance(_message.Message):
    __slots__ = ("smtt", "task_allocation", "pod_packing", "seq_parallel", "json")
    SMTT_FIELD_NUMBER: _ClassVar[int]
    TASK_ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    POD_PACKING_FIELD_NUMBER: _ClassVar[int]
    SEQ_PARALLEL_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    smtt: SmttInstance
    task_allocation: TaskAllocationInstance
    pod_packing: PodPackingInstance
    seq_parallel: SeqParallelInstance
    json: str
    def __init__(self, smtt: _Optional[_Union[SmttInstance, _Mapping]] = ..., task_allocation: _Optional[_Union[TaskAllocationInstance, _Mapping]] = ..., pod_packing: _Optional[_Union[PodPackingInstance, _Mapping]] = ..., seq_parallel: _Optional[_Union[SeqParallelInstance, _Mapping]] = ..., json: _Optional[str] = ...) -> None: ...

class IntRow(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class SmttInstance(_message.Message):
    __slots__ = ("name", "processing_times", "due_dates", "weights")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_TIMES_FIELD_NUMBER: _ClassVar[int]
    DUE_DATES_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    processing_times: _containers.RepeatedScalarFieldContainer[int]
    due_dates: _containers.RepeatedScalarFieldContainer[int]
    weights: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., processing_times: _Optional[_Iterable[int]] = ..., due_dates: _Optional[_Iterable[int]] = ..., weights: _Optional[_Iterable[int]] = ...) -> None: ...

class TaskResource(_message.Message):
    __slots__ = ("name", "capacities", "demands")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CAPACITIES_FIELD_NUMBER: _ClassVar[int]
    DEMANDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    capacities: _containers.RepeatedScalarFieldContainer[int]
    demands: _containers.RepeatedCompositeFieldContainer[IntRow]
    def __init__(self, name: _Optional[str] = ..., capacities: _Optional[_Iterable[int]] = ..., demands: _Optional[_Iterable[_Union[IntRow, _Mapping]]] = ...) -> None: ...

class TaskAllocationInstance(_message.Message):
    __slots__ = ("name", "objective", "num_agents", "num_tasks", "costs", "resources", "makespan_resource", "forbidden", "agent_names", "task_names")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    NUM_AGENTS_FIELD_NUMBER: _ClassVar[int]
    NUM_TASKS_FIELD_NUMBER: _ClassVar[int]
    COSTS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    MAKESPAN_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    FORBIDDEN_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAMES_FIELD_NUMBER: _ClassVar[int]
    TASK_NAMES_FIELD_NUMBER: _ClassVar[int]
    name: str
    objective: str
    num_agents: int
    num_tasks: int
    costs: _containers.RepeatedCompositeFieldContainer[IntRow]
    resources: _containers.RepeatedCompositeFieldContainer[TaskResource]
    makespan_resource: int
    forbidden: _containers.RepeatedCompositeFieldContainer[IntRow]
    agent_names: _containers.RepeatedScalarFieldContainer[str]
    task_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., objective: _Optional[str] = ..., num_agents: _Optional[int] = ..., num_tasks: _Optional[int] = ..., costs: _Optional[_Iterable[_Union[IntRow, _Mapping]]] = ..., resources: _Optional[_Iterable[_Union[TaskResource, _Mapping]]] = ..., makespan_resource: _Optional[int] = ..., forbidden: _Optional[_Iterable[_Union[IntRow, _Mapping]]] = ..., agent_names: _Optional[_Iterable[str]] = ..., task_names: _Optional[_Iterable[str]] = ...) -> None: ...

class Taint(_message.Message):
    __slots__ = ("key", "value", "effect")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    EFFECT_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    effect: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ..., effect: _Optional[str] = ...) -> None: ...

class GpuDevices(_message.Message):
    __slots__ = ("count", "model")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    count: int
    model: str
    def __init__(self, count: _Optional[int] = ..., model: _Optional[str] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("name", "allocatable", "labels", "taints", "unschedulable", "gpus")
    class AllocatableEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALLOCATABLE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    TAINTS_FIELD_NUMBER: _ClassVar[int]
    UNSCHEDULABLE_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    name: str
    allocatable: _containers.ScalarMap[str, int]
    labels: _containers.ScalarMap[str, str]
    taints: _containers.RepeatedCompositeFieldContainer[Taint]
    unschedulable: bool
    gpus: GpuDevices
    def __init__(self, name: _Optional[str] = ..., allocatable: _Optional[_Mapping[str, int]] = ..., labels: _Optional[_Mapping[str, str]] = ..., taints: _Optional[_Iterable[_Union[Taint, _Mapping]]] = ..., unschedulable: _Optional[bool] = ..., gpus: _Optional[_Union[GpuDevices, _Mapping]] = ...) -> None: ...

class Requirement(_message.Message):
    __slots__ = ("key", "operator", "values")
    KEY_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    key: str
    operator: str
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, key: _Optional[str] = ..., operator: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class NodeSelectorTerm(_message.Message):
    __slots__ = ("match_expressions",)
    MATCH_EXPRESSIONS_FIELD_NUMBER: _ClassVar[int]
    match_expressions: _containers.RepeatedCompositeFieldContainer[Requirement]
    def __init__(self, match_expressions: _Optional[_Iterable[_Union[Requirement, _Mapping]]] = ...) -> None: ...

class LabelSelector(_message.Message):
    __slots__ = ("match_labels", "match_expressions")
    class MatchLabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MATCH_LABELS_FIELD_NUMBER: _ClassVar[int]
    MATCH_EXPRESSIONS_FIELD_NUMBER: _ClassVar[int]
    match_labels: _containers.ScalarMap[str, str]
    match_expressions: _containers.RepeatedCompositeFieldContainer[Requirement]
    def __init__(self, match_labels: _Optional[_Mapping[str, str]] = ..., match_expressions: _Optional[_Iterable[_Union[Requirement, _Mapping]]] = ...) -> None: ...

class PodAffinityTerm(_message.Message):
    __slots__ = ("label_selector", "topology_key", "namespaces")
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    TOPOLOGY_KEY_FIELD_NUMBER: _ClassVar[int]
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    label_selector: LabelSelector
    topology_key: str
    namespaces: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, label_selector: _Optional[_Union[LabelSelector, _Mapping]] = ..., topology_key: _Optional[str] = ..., namespaces: _Optional[_Iterable[str]] = ...) -> None: ...

class Toleration(_message.Message):
    __slots__ = ("key", "operator", "value", "effect")
    KEY_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    EFFECT_FIELD_NUMBER: _ClassVar[int]
    key: str
    operator: str
    value: str
    effect: str
    def __init__(self, key: _Optional[str] = ..., operator: _Optional[str] = ..., value: _Optional[str] = ..., effect: _Optional[str] = ...) -> None: ...

class TopologySpread(_message.Message):
    __slots__ = ("max_skew", "topology_key", "when_unsatisfiable", "label_selector")
    MAX_SKEW_FIELD_NUMBER: _ClassVar[int]
    TOPOLOGY_KEY_FIELD_NUMBER: _ClassVar[int]
    WHEN_UNSATISFIABLE_FIELD_NUMBER: _ClassVar[int]
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    max_skew: int
    topology_key: str
    when_unsatisfiable: str
    label_selector: LabelSelector
    def __init__(self, max_skew: _Optional[int] = ..., topology_key: _Optional[str] = ..., when_unsatisfiable: _Optional[str] = ..., label_selector: _Optional[_Union[LabelSelector, _Mapping]] = ...) -> None: ...

class GpuRequest(_message.Message):
    __slots__ = ("count", "milli", "models")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MILLI_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    count: int
    milli: int
    models: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, count: _Optional[int] = ..., milli: _Optional[int] = ..., models: _Optional[_Iterable[str]] = ...) -> None: ...

class Pod(_message.Message):
    __slots__ = ("name", "namespace", "labels", "priority", "requests", "gpu", "node_selector", "node_affinity", "tolerations", "pod_affinity", "pod_anti_affinity", "topology_spread", "gang", "node", "gpu_indices", "evictable")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class RequestsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class NodeSelectorEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    NODE_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    NODE_AFFINITY_FIELD_NUMBER: _ClassVar[int]
    TOLERATIONS_FIELD_NUMBER: _ClassVar[int]
    POD_AFFINITY_FIELD_NUMBER: _ClassVar[int]
    POD_ANTI_AFFINITY_FIELD_NUMBER: _ClassVar[int]
    TOPOLOGY_SPREAD_FIELD_NUMBER: _ClassVar[int]
    GANG_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    GPU_INDICES_FIELD_NUMBER: _ClassVar[int]
    EVICTABLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    labels: _containers.ScalarMap[str, str]
    priority: int
    requests: _containers.ScalarMap[str, int]
    gpu: GpuRequest
    node_selector: _containers.ScalarMap[str, str]
    node_affinity: _containers.RepeatedCompositeFieldContainer[NodeSelectorTerm]
    tolerations: _containers.RepeatedCompositeFieldContainer[Toleration]
    pod_affinity: _containers.RepeatedCompositeFieldContainer[PodAffinityTerm]
    pod_anti_affinity: _containers.RepeatedCompositeFieldContainer[PodAffinityTerm]
    topology_spread: _containers.RepeatedCompositeFieldContainer[TopologySpread]
    gang: str
    node: str
    gpu_indices: _containers.RepeatedScalarFieldContainer[int]
    evictable: bool
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., priority: _Optional[int] = ..., requests: _Optional[_Mapping[str, int]] = ..., gpu: _Optional[_Union[GpuRequest, _Mapping]] = ..., node_selector: _Optional[_Mapping[str, str]] = ..., node_affinity: _Optional[_Iterable[_Union[NodeSelectorTerm, _Mapping]]] = ..., tolerations: _Optional[_Iterable[_Union[Toleration, _Mapping]]] = ..., pod_affinity: _Optional[_Iterable[_Union[PodAffinityTerm, _Mapping]]] = ..., pod_anti_affinity: _Optional[_Iterable[_Union[PodAffinityTerm, _Mapping]]] = ..., topology_spread: _Optional[_Iterable[_Union[TopologySpread, _Mapping]]] = ..., gang: _Optional[str] = ..., node: _Optional[str] = ..., gpu_indices: _Optional[_Iterable[int]] = ..., evictable: _Optional[bool] = ...) -> None: ...

class PackingOptions(_message.Message):
    __slots__ = ("allow_evictions", "max_moves", "packing", "scoring")
    ALLOW_EVICTIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_MOVES_FIELD_NUMBER: _ClassVar[int]
    PACKING_FIELD_NUMBER: _ClassVar[int]
    SCORING_FIELD_NUMBER: _ClassVar[int]
    allow_evictions: bool
    max_moves: int
    packing: str
    scoring: ScoringStrategy
    def __init__(self, allow_evictions: _Optional[bool] = ..., max_moves: _Optional[int] = ..., packing: _Optional[str] = ..., scoring: _Optional[_Union[ScoringStrategy, _Mapping]] = ...) -> None: ...

class ScoringStrategy(_message.Message):
    __slots__ = ("type", "resources", "shape")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    type: str
    resources: _containers.RepeatedCompositeFieldContainer[ScoredResource]
    shape: _containers.RepeatedCompositeFieldContainer[ShapePoint]
    def __init__(self, type: _Optional[str] = ..., resources: _Optional[_Iterable[_Union[ScoredResource, _Mapping]]] = ..., shape: _Optional[_Iterable[_Union[ShapePoint, _Mapping]]] = ...) -> None: ...

class ScoredResource(_message.Message):
    __slots__ = ("name", "weight")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    name: str
    weight: int
    def __init__(self, name: _Optional[str] = ..., weight: _Optional[int] = ...) -> None: ...

class ShapePoint(_message.Message):
    __slots__ = ("utilization", "score")
    UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    utilization: int
    score: int
    def __init__(self, utilization: _Optional[int] = ..., score: _Optional[int] = ...) -> None: ...

class PodPackingInstance(_message.Message):
    __slots__ = ("name", "nodes", "pods", "running", "options")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    PODS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    nodes: _containers.RepeatedCompositeFieldContainer[Node]
    pods: _containers.RepeatedCompositeFieldContainer[Pod]
    running: _containers.RepeatedCompositeFieldContainer[Pod]
    options: PackingOptions
    def __init__(self, name: _Optional[str] = ..., nodes: _Optional[_Iterable[_Union[Node, _Mapping]]] = ..., pods: _Optional[_Iterable[_Union[Pod, _Mapping]]] = ..., running: _Optional[_Iterable[_Union[Pod, _Mapping]]] = ..., options: _Optional[_Union[PackingOptions, _Mapping]] = ...) -> None: ...

class Cluster(_message.Message):
    __slots__ = ("num_gpus", "gpus_per_node", "memory_mb")
    NUM_GPUS_FIELD_NUMBER: _ClassVar[int]
    GPUS_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    num_gpus: int
    gpus_per_node: int
    memory_mb: float
    def __init__(self, num_gpus: _Optional[int] = ..., gpus_per_node: _Optional[int] = ..., memory_mb: _Optional[float] = ...) -> None: ...

class CostModel(_message.Message):
    __slots__ = ("preset", "name", "alpha1", "alpha2", "beta_ms", "comm_mb_per_token", "bandwidth_intra_node", "bandwidth_inter_node", "model_state_mb", "activation_mb_per_token")
    class BandwidthIntraNodeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: float
        def __init__(self, key: _Optional[int] = ..., value: _Optional[float] = ...) -> None: ...
    class BandwidthInterNodeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: float
        def __init__(self, key: _Optional[int] = ..., value: _Optional[float] = ...) -> None: ...
    PRESET_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALPHA1_FIELD_NUMBER: _ClassVar[int]
    ALPHA2_FIELD_NUMBER: _ClassVar[int]
    BETA_MS_FIELD_NUMBER: _ClassVar[int]
    COMM_MB_PER_TOKEN_FIELD_NUMBER: _ClassVar[int]
    BANDWIDTH_INTRA_NODE_FIELD_NUMBER: _ClassVar[int]
    BANDWIDTH_INTER_NODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_STATE_MB_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_MB_PER_TOKEN_FIELD_NUMBER: _ClassVar[int]
    preset: str
    name: str
    alpha1: float
    alpha2: float
    beta_ms: float
    comm_mb_per_token: float
    bandwidth_intra_node: _containers.ScalarMap[int, float]
    bandwidth_inter_node: _containers.ScalarMap[int, float]
    model_state_mb: float
    activation_mb_per_token: float
    def __init__(self, preset: _Optional[str] = ..., name: _Optional[str] = ..., alpha1: _Optional[float] = ..., alpha2: _Optional[float] = ..., beta_ms: _Optional[float] = ..., comm_mb_per_token: _Optional[float] = ..., bandwidth_intra_node: _Optional[_Mapping[int, float]] = ..., bandwidth_inter_node: _Optional[_Mapping[int, float]] = ..., model_state_mb: _Optional[float] = ..., activation_mb_per_token: _Optional[float] = ...) -> None: ...

class SeqParallelInstance(_message.Message):
    __slots__ = ("name", "sequences", "cluster", "degrees", "cost_model", "max_microbatches")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    DEGREES_FIELD_NUMBER: _ClassVar[int]
    COST_MODEL_FIELD_NUMBER: _ClassVar[int]
    MAX_MICROBATCHES_FIELD_NUMBER: _ClassVar[int]
    name: str
    sequences: _containers.RepeatedScalarFieldContainer[int]
    cluster: Cluster
    degrees: _containers.RepeatedScalarFieldContainer[int]
    cost_model: CostModel
    max_microbatches: int
    def __init__(self, name: _Optional[str] = ..., sequences: _Optional[_Iterable[int]] = ..., cluster: _Optional[_Union[Cluster, _Mapping]] = ..., degrees: _Optional[_Iterable[int]] = ..., cost_model: _Optional[_Union[CostModel, _Mapping]] = ..., max_microbatches: _Optional[int] = ...) -> None: ...

class SmttSolution(_message.Message):
    __slots__ = ("sequence",)
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    sequence: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, sequence: _Optional[_Iterable[int]] = ...) -> None: ...

class TaskAllocationSolution(_message.Message):
    __slots__ = ("assignment",)
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    assignment: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, assignment: _Optional[_Iterable[int]] = ...) -> None: ...

class PodPackingSolution(_message.Message):
    __slots__ = ("placements", "unplaced", "evictions", "moves", "gpu_indices")
    class PlacementsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class MovesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class GpuIndicesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: IntRow
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[IntRow, _Mapping]] = ...) -> None: ...
    PLACEMENTS_FIELD_NUMBER: _ClassVar[int]
    UNPLACED_FIELD_NUMBER: _ClassVar[int]
    EVICTIONS_FIELD_NUMBER: _ClassVar[int]
    MOVES_FIELD_NUMBER: _ClassVar[int]
    GPU_INDICES_FIELD_NUMBER: _ClassVar[int]
    placements: _containers.ScalarMap[str, str]
    unplaced: _containers.RepeatedScalarFieldContainer[str]
    evictions: _containers.RepeatedScalarFieldContainer[str]
    moves: _containers.ScalarMap[str, str]
    gpu_indices: _containers.MessageMap[str, IntRow]
    def __init__(self, placements: _Optional[_Mapping[str, str]] = ..., unplaced: _Optional[_Iterable[str]] = ..., evictions: _Optional[_Iterable[str]] = ..., moves: _Optional[_Mapping[str, str]] = ..., gpu_indices: _Optional[_Mapping[str, IntRow]] = ...) -> None: ...

class SpGroup(_message.Message):
    __slots__ = ("gpus", "sequences")
    GPUS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    gpus: _containers.RepeatedScalarFieldContainer[int]
    sequences: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, gpus: _Optional[_Iterable[int]] = ..., sequences: _Optional[_Iterable[int]] = ...) -> None: ...

class MicroBatch(_message.Message):
    __slots__ = ("groups",)
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[SpGroup]
    def __init__(self, groups: _Optional[_Iterable[_Union[SpGroup, _Mapping]]] = ...) -> None: ...

class SeqParallelSolution(_message.Message):
    __slots__ = ("microbatches",)
    MICROBATCHES_FIELD_NUMBER: _ClassVar[int]
    microbatches: _containers.RepeatedCompositeFieldContainer[MicroBatch]
    def __init__(self, microbatches: _Optional[_Iterable[_Union[MicroBatch, _Mapping]]] = ...) -> None: ...

class Solution(_message.Message):
    __slots__ = ("smtt", "task_allocation", "pod_packing", "seq_parallel", "json")
    SMTT_FIELD_NUMBER: _ClassVar[int]
    TASK_ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    POD_PACKING_FIELD_NUMBER: _ClassVar[int]
    SEQ_PARALLEL_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    smtt: SmttSolution
    task_allocation: TaskAllocationSolution
    pod_packing: PodPackingSolution
    seq_parallel: SeqParallelSolution
    json: str
    def __init__(self, smtt: _Optional[_Union[SmttSolution, _Mapping]] = ..., task_allocation: _Optional[_Union[TaskAllocationSolution, _Mapping]] = ..., pod_packing: _Optional[_Union[PodPackingSolution, _Mapping]] = ..., seq_parallel: _Optional[_Union[SeqParallelSolution, _Mapping]] = ..., json: _Optional[str] = ...) -> None: ...
