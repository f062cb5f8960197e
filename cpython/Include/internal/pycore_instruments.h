#ifndef Py_INTERNAL_INSTRUMENTS_H
#define Py_INTERNAL_INSTRUMENTS_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

/* PEP 669 monitoring (sys.monitoring): the interpreter's side.
   Python/instrumentation.c explains the design. */

#define PY_MONITORING_TOOL_IDS 6

/* Two more tools, invisible to sys.monitoring: sys.setprofile's and
   sys.settrace's (Python/legacy_tracing.c).  As upstream numbers them; they
   are called before the user's tools (highest id first), sys.settrace's
   before sys.setprofile's, in 3.11's order. */
#define PY_MONITORING_SYS_PROFILE_ID 6
#define PY_MONITORING_SYS_TRACE_ID 7
#define _PY_MONITORING_LEGACY_TOOLS \
    ((1 << PY_MONITORING_SYS_PROFILE_ID) | (1 << PY_MONITORING_SYS_TRACE_ID))

/* The event numbers, PY_MONITORING_EVENT_X (sys.monitoring.events.X ==
   1 << PY_MONITORING_EVENT_X), are public: Include/cpython/monitoring.h,
   reached through Python.h.  instrumentation.c checks that they agree with
   _PY_MONITORING_EVENTS. */
#include "cpython/monitoring.h"

#define _PY_MONITORING_EVENTS 19

/* Events that may be set per code object and may return DISABLE there (the
exception events since CPython 3.15: DISABLE switches them off for the whole
code object). */
#define _PY_MONITORING_LOCAL_EVENT_SET \
    (((1 << (PY_MONITORING_EVENT_RERAISE + 1)) - 1) | (1 << PY_MONITORING_EVENT_BRANCH))
/* The exception events: not tied to an instruction of the code object. */
#define _PY_MONITORING_EXC_EVENT_SET \
    ((1 << PY_MONITORING_EVENT_RAISE) | (1 << PY_MONITORING_EVENT_EXCEPTION_HANDLED) | \
     (1 << PY_MONITORING_EVENT_PY_UNWIND) | (1 << PY_MONITORING_EVENT_PY_THROW) | \
     (1 << PY_MONITORING_EVENT_RERAISE))
/* Events delivered only at a location instrumented for CALL. */
#define _PY_MONITORING_C_EVENT_SET \
    ((1 << PY_MONITORING_EVENT_C_RETURN) | (1 << PY_MONITORING_EVENT_C_RAISE))

/* For each event, the set of tools (bit i: tool i) that want it. */
typedef struct {
    uint8_t tools[_PY_MONITORING_EVENTS];
} _Py_Monitors;

typedef struct _PyCoMonitoringData _PyCoMonitoringData;
struct _PyInterpreterFrame;

/* Per-interpreter state (PyInterpreterState.monitoring). */
struct _Py_monitoring_state {
    /* Threads with a sys.setprofile or sys.settrace function (their tools'
       events are on while there is one), and whether some frame has asked
       for 'opcode' events (frame.f_trace_opcodes). */
    Py_ssize_t sys_profiling_threads;
    Py_ssize_t sys_tracing_threads;
    int sys_trace_opcodes;
    /* Where a sys.settrace function's jump landed (pycore_legacy_tracing.h) */
    _Py_CODEUNIT *legacy_jumped_to;
    /* Whether the last frame whose 'call' event a trace function got wanted
       'line' events: code instrumented meanwhile gets the trace tool's LINE
       at once (legacy_tracing.c, "Lines"). */
    int legacy_lines_hint;
    _Py_Monitors events;                  /* global event sets */
    PyObject *tool_names[PY_MONITORING_TOOL_IDS];
    PyObject *callables[PY_MONITORING_TOOL_IDS][_PY_MONITORING_EVENTS];
    /* Replaced on every change by a number unique in the process; code
       objects compare it at RESUME. */
    uint32_t version;
    /* Every code object holding monitoring data (local events, DISABLEd
       locations, instrumented bytecode), so that changes can reach them. */
    _PyCoMonitoringData *instrumented_code;
    /* The C API's state (code-like objects, scope epochs), or NULL. */
    struct _PyMonitoringCapiState *capi;
    /* The exception events some code object has switched on locally: the
       union of their local sets (only these events are kept up to date). */
    _Py_Monitors local_exc;
    /* The same for every event (a superset: code objects that go away keep
       their bits until the next change), so that events only the internal
       tools want need not look at the code object. */
    _Py_Monitors local_any;
};

/* Bring a code object's bytecode up to date with the interpreter's tool
   state.  Called when co->_co_instrumentation_version is stale. */
extern int _Py_Instrument(PyCodeObject *co, PyInterpreterState *interp);

/* Python/ceval.c: make RESUME check instrumentation versions, from the first
   change of tool state on (until then no version is stale). */
extern void _PyEval_EnableResumeChecks(PyThreadState *tstate);
extern int _PyEval_ResumeChecksEnabled;

/* Firing events from the eval loop.  Each returns the set of tools the event
   was for (>= 0), or -1 with an exception set (raised by a callback, or by
   the machinery). */
extern int _Py_call_instrumentation(PyThreadState *tstate, int event,
    struct _PyInterpreterFrame *frame, _Py_CODEUNIT *instr);
extern int _Py_call_instrumentation_arg(PyThreadState *tstate, int event,
    struct _PyInterpreterFrame *frame, _Py_CODEUNIT *instr, PyObject *arg);
extern int _Py_call_instrumentation_2args(PyThreadState *tstate, int event,
    struct _PyInterpreterFrame *frame, _Py_CODEUNIT *instr, PyObject *arg0, PyObject *arg1);
/* Events about the current exception (RAISE, RERAISE, EXCEPTION_HANDLED,
   PY_UNWIND, PY_THROW, STOP_ITERATION): the exception stays set unless a
   callback raises, in which case the callback's exception replaces it and -1
   is returned. */
extern int _Py_call_instrumentation_exc0(PyThreadState *tstate, int event,
    struct _PyInterpreterFrame *frame, _Py_CODEUNIT *instr);
/* C_RETURN, or C_RAISE (about the current exception, as above), of a call
   whose CALL event was for the tools in `called`. */
extern int _Py_call_instrumentation_c_event(PyThreadState *tstate, int event,
    struct _PyInterpreterFrame *frame, _Py_CODEUNIT *instr,
    PyObject *callable, PyObject *arg0, uint8_t call_tools);
/* PY_THROW for a generator resumed by gen.throw() after the iterator it
   delegated to ended (Objects/genobject.c); the StopIteration is set. */
extern int _Py_call_instrumentation_delegate_ended(PyThreadState *tstate,
    struct _PyInterpreterFrame *frame);
/* STOP_ITERATION for a generator or coroutine that returned `value`. */
extern int _Py_call_instrumentation_stop_iteration(PyThreadState *tstate,
    struct _PyInterpreterFrame *frame, _Py_CODEUNIT *instr, PyObject *value);

/* While a monitoring callback runs, tstate->tracing_what holds the event as
   _PY_MONITORING_TRACING_WHAT(event): a negative value, so that it can never
   be taken for one of the PyTrace_* events of a sys.settrace function.
   frame.f_lineno's setter reads it to refuse jumps from events at which the
   eval loop cannot move to another instruction. */
#define _PY_MONITORING_TRACING_WHAT(event) (-1 - (event))
#define _PY_MONITORING_TRACING_EVENT(what) (-1 - (what))

/* LINE and INSTRUCTION, fired by INSTRUMENTED_LINE and INSTRUMENTED_INSTRUCTION
   at `instr`.  Each returns the opcode to run next at `instr` (the one under
   that layer), or -1 with an exception set.  `prev` is the instruction this
   frame executed before `instr`. */
extern int _Py_call_instrumentation_line(PyThreadState *tstate,
    struct _PyInterpreterFrame *frame, _Py_CODEUNIT *instr, _Py_CODEUNIT *prev);
extern int _Py_call_instrumentation_instruction(PyThreadState *tstate,
    struct _PyInterpreterFrame *frame, _Py_CODEUNIT *instr);

/* JUMP (taken == -1), or BRANCH_LEFT (taken == 0: not taken, the next
   instruction) or BRANCH_RIGHT (taken == 1) with the deprecated BRANCH, from
   the jump at `src` to `dest`.  Returns 0, or -1 with an exception set. */
extern int _Py_call_instrumentation_jump(PyThreadState *tstate,
    struct _PyInterpreterFrame *frame, _Py_CODEUNIT *src, _Py_CODEUNIT *dest, int taken);

/* code.co_branches(): an iterator of (src, left, right) offsets. */
extern PyObject *_PyMonitoring_CodeBranches(PyCodeObject *co);

/* The deoptimized opcode of the instruction at `index`, looking through
   INSTRUMENTED_LINE, INSTRUMENTED_INSTRUCTION and INSTRUMENTED_BRANCH to
   what they hide (code.co_code is made with it). */
extern int _PyMonitoring_BaseOpcode(PyCodeObject *co, int index);
/* The opcode a frame that receives no events (tstate->tracing: it runs a
   callback or a trace function) runs at `index`, which holds
   INSTRUMENTED_LINE or INSTRUMENTED_INSTRUCTION: the specialized form the
   instruction had when the layer was put over it, where running that form
   cannot skip another instruction's events, or what the layer hides. */
extern int _PyMonitoring_QuietOpcode(PyCodeObject *co, int index);

/* Is any tool interested in this exception event, globally or in some code
   object? (cheap, for error paths; tools_for_event() decides per code) */
#define _Py_MONITORING_WANTS(interp, event) \
    (((interp)->monitoring.events.tools[(event)] | \
      (interp)->monitoring.local_exc.tools[(event)]) != 0)

extern PyObject _PyInstrumentation_MISSING;
extern PyObject _PyInstrumentation_DISABLE;

/* sys.setprofile and sys.settrace as tools (Python/legacy_tracing.c) */
/* tstate's profile or trace function has been set or cleared; had_profile
   and had_trace: whether it had one before.  PyThreadState_Clear() uses the
   second, which cannot fail. */
extern int _PyLegacyTracing_Changed(PyThreadState *tstate, int had_profile,
                                    int had_trace);
extern void _PyLegacyTracing_ThreadCleared(PyThreadState *tstate, int had_profile,
                                           int had_trace);
/* A thread state was created (Python/pystate.c), or the user's tools'
   events changed (instrumentation.c): point c_profilefunc and c_tracefunc
   at the bridge for compiled code, or back at the functions set. */
extern void _PyLegacyTracing_ThreadCreated(PyThreadState *tstate);
extern void _PyLegacyTracing_UpdateBridges(PyInterpreterState *interp);
/* An event compiled code sent the 3.11 way, for the user's tools
   (instrumentation.c) */
extern int _PyMonitoring_FireOldStyleEvent(PyObject *code, int event, int lineno,
                                           PyObject *arg);
/* A frame's f_trace_opcodes was set. */
extern int _PyLegacyTracing_OpcodesWanted(PyThreadState *tstate);
/* A frame's f_trace was set, or its f_trace_lines switched on. */
extern int _PyLegacyTracing_FrameTraced(PyFrameObject *f);
/* sys.settrace's 'line' events are local to the code objects of the frames
   that want them (legacy_tracing.c): switch them on in co. */
extern int _PyMonitoring_WantLegacyLines(PyInterpreterState *interp,
                                         PyCodeObject *co);
/* Is func sys.settrace's trampoline (which passes on a frame's events only
   while it has an f_trace)?  (Python/sysmodule.c) */
extern int _PySys_IsTraceTrampoline(Py_tracefunc func);
/* The events of the tools in `tools` (one or both), from the engine: `args`
   are the event's own arguments (after code and offset). */
extern int _PyLegacyTracing_Event(PyThreadState *tstate, uint8_t tools, int event,
    struct _PyInterpreterFrame *frame, PyObject *const *args, Py_ssize_t nargs);
extern int _PyLegacyTracing_Instruction(PyThreadState *tstate,
    struct _PyInterpreterFrame *frame, _Py_CODEUNIT *instr, int after_extended_arg);
/* Does sys.setprofile report a call of `callable` with first argument
   `arg0` (MISSING if none) as 'c_call'?  Builtin functions, and method
   descriptors given their self, as 3.11 chose them. */
static inline int
_PyLegacyTracing_ReportsCall(PyObject *callable, PyObject *arg0)
{
    return PyCFunction_CheckExact(callable) || PyCMethod_CheckExact(callable) ||
           (Py_IS_TYPE(callable, &PyMethodDescr_Type) &&
            arg0 != &_PyInstrumentation_MISSING);
}
/* Set the two tools' global events (instrumentation.c). */
extern int _PyMonitoring_SetLegacyEvents(PyInterpreterState *interp,
    int profile_events, int trace_events, int now);

/* sys.monitoring, created by sys at start-up. */
extern PyObject *_Py_CreateMonitoringObject(void);

/* Code object life cycle (Objects/codeobject.c). */
extern void _PyMonitoring_CodeDealloc(PyCodeObject *co);
/* Interpreter shutdown (pystate.c): _PyMonitoring_Clear() drops tools and
   callbacks before the last collection, _PyMonitoring_Fini() after it also
   de-instruments the code that survived and frees what is left. */
extern void _PyMonitoring_Clear(PyInterpreterState *interp);
extern void _PyMonitoring_Fini(PyInterpreterState *interp);

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_INSTRUMENTS_H */
