/* PEP 669 monitoring (sys.monitoring) for CPython 3.11's eval loop.

   Design
   ------

   Tools (ids 0-5) register callbacks per event and switch events on globally
   (sys.monitoring.set_events) or per code object (set_local_events).  All of
   that is per-interpreter state, PyInterpreterState.monitoring.

   Events that belong to an instruction (PY_START and PY_RESUME at RESUME,
   PY_RETURN, PY_YIELD, CALL with its ancillary C_RETURN and C_RAISE,
   STOP_ITERATION at FOR_ITER and SEND) are delivered by INSTRUMENTED_*
   opcodes that this file writes over the instruction in the code object's
   adaptive bytecode, only where some tool wants that event.  An instrumented
   instruction fires its event and then runs the base instruction's generic
   (unspecialized) implementation.  Everywhere else the bytecode stays
   quickened and specialized, so code no tool looks at runs at full speed.

   LINE and INSTRUCTION can happen at any instruction: INSTRUMENTED_LINE and
   INSTRUMENTED_INSTRUCTION are layers written over whatever is there, with a
   per-code side table holding what they hide (see "LINE and INSTRUCTION"
   below).

   Only tools that have registered a callback for an event count as wanting
   it when code is instrumented (wanted_events()), so an event switched on
   without a callback costs nothing; register_callback() bumps the version.

   Events about exceptions (RAISE, RERAISE, EXCEPTION_HANDLED, PY_UNWIND,
   PY_THROW) are not tied to an instruction: the eval loop's error paths test
   the global event set and the union of the local ones (local_exc) directly,
   which costs nothing on the normal path.  As in CPython 3.15 they may be set
   locally, and DISABLE switches one off for that tool in that whole code
   object (exc_disabled); set only globally, they refuse DISABLE.

   Instrumentation is lazy.  Every change of tool state gives the interpreter
   a new version number (interp->monitoring.version); a code object records
   the version its bytecode matches (co->_co_instrumentation_version) and
   RESUME, which starts every function and every generator resumption,
   compares the two and calls _Py_Instrument() when they differ.  Code already
   running on some thread's stack when a change is made is instrumented at once
   (instrument_executing_code), since it will not pass a RESUME before it
   returns.  gen.throw() enters a frame without a RESUME, so it instruments too.
   RESUME leaves stale code alone on a thread that is running a callback or a
   trace function (tstate->tracing), whose frames get no events: code that only
   callbacks and trace functions run is never instrumented and runs at stock
   speed, as under 3.11's tracing (where a trace function's own code ran with
   use_tracing off).  Before this, a line tracer's own three lines went through
   the layers on every event, which made sys.settrace cost more than on stock
   on code with short lines.  A frame that such a thread starts and that lives
   on (a generator) is brought up to date by its next RESUME outside.

   Versions
   --------

   No tool, no cost.  Until the tool state of some interpreter changes for the
   first time, every version and every stamp is 0, no code can be stale, and
   RESUME and RESUME_QUICK are stock's instructions: not one instruction is
   added.  The first change (tool_state_changed) calls
   _PyEval_EnableResumeChecks(), which points the eval loop's dispatch-table
   entries for RESUME and RESUME_QUICK at two labels that compare the
   versions and then continue into the stock instruction (a build without
   computed gotos tests a flag instead).  set_local_events() does not need
   the check: it instruments its code object at once, without a new version.
   The other instructions that carry events test nothing either: the
   INSTRUMENTED_* forms have the event code, the base forms are stock's
   (only the exception paths test the global exception events, see above).

   That design was chosen over two others:
   - Folding the version into eval_breaker and comparing that word with the
     code object's stamp at RESUME (what 3.13 does) still loads the code
     object at every RESUME, so it is not free; and in 3.11 eval_breaker is
     stored whole by COMPUTE_EVAL_BREAKER, by threads without the GIL and by
     signal handlers, all of which would have to become atomic bit operations
     that cannot lose a version change.
   - Keeping the check only in the unquickened RESUME and de-quickening RESUME
     in every quickened code object on each change is free even after tools
     are gone, but 3.11's code objects are not tracked by the GC, so finding
     them takes a registry (memory for every quickened code object, tool or
     no tool), and each change becomes proportional to all quickened code
     instead of to the frames running.
   The dispatch-table switch needs no memory, no atomics and no registry, and
   a change still costs what it did.  Its price: once a tool has been used in
   the process, RESUME keeps the comparison (about five instructions), even
   after every tool is gone.

   Versions are unique in the process: each change takes the next number of
   one process-wide counter (new_version(); all interpreters of a 3.11
   process share the GIL).  Code objects can be shared between interpreters
   (the deep-frozen stdlib's are static), and a stamp written for one
   interpreter's tool state must never pass for another's: with per-
   interpreter counters both reach the same small numbers.  Now a stamp
   matches only the interpreter and the state it was written for, and any
   other interpreter re-instruments the code for itself when it runs it.
   Version 0, "no change yet", is shared; code stamped 0 is uninstrumented,
   or instrumented by set_local_events() in an interpreter that has had no
   change yet, which another interpreter at 0 sees as instrumentation it does
   not need: that costs a test, never an event (the tools come from the
   interpreter running the code, see below).  The dispatch-table switch is
   process-wide too: the first change in any interpreter turns the check on
   for all.  The counter is 32 bits wide, to fit the padding in
   PyCodeObject; it skips 0 when it wraps, after 2**32 changes.
   Dispatch itself tests nothing: DISPATCH() no longer ORs
   cframe.use_tracing into every opcode, because sys.settrace and
   sys.setprofile are tools of this engine too (two internal ids, 6 and 7,
   invisible to sys.monitoring; Python/legacy_tracing.c).  So an interpreter
   with no tool runs fewer instructions than stock 3.11.

   Which tools receive an event is decided when it fires, from the current
   global and local event sets minus the tools that returned DISABLE at that
   location.  Instrumented bytecode therefore only needs to be a superset of
   the locations wanted: stale instrumentation costs a test, never a wrong
   event.  A DISABLE is recorded in a per-location mask (one bit per tool) and
   the location is de-instrumented at once if no tool wants it any more; the
   masks survive re-instrumentation until restart_events() clears them.

   Re-instrumenting a code object is one pass over its bytecode
   (instrument_code): code is quickened first, so every instruction is either
   quickened/specialized or instrumented, and the pass writes the instrumented
   opcode or the quickened form of the base instruction (the adaptive opcode
   with a fresh counter) at each event location.  Quickening never runs on
   instrumented code, and specialization only rewrites the adaptive
   instruction being executed, so it cannot overwrite an instrumented one.
   The one specialization that reaches past its own instruction is PRECALL:
   its specialized forms perform the call and skip the CALL that follows.
   While a CALL is instrumented its PRECALL is therefore INSTRUMENTED_PRECALL,
   which never specializes and leaves the unpacking of a bound method to
   INSTRUMENTED_CALL, so that the CALL event sees the callable as called.
   Instrumented opcodes keep their oparg, so EXTENDED_ARG prefixes need no
   care, and they keep the base instruction's inline cache entries.

   co_code, marshal and .pyc files never see instrumentation: the
   INSTRUMENTED_* opcodes are in _PyOpcode_Deopt like specialized ones, so
   _PyCode_GetCode() and everything else that deoptimizes maps them back.

   While a callback runs, tstate->tracing is raised, as for sys.settrace
   functions: no events are delivered for code the callback runs.  The
   internal tools' callbacks are C functions (_PyLegacyTracing_Event() and
   friends), called before the user's tools without boxing anything; they
   keep 3.11's rules for what a trace or profile function sees.

   ABI
   ---

   Extensions built against stock 3.11 headers must keep working, so no field
   they (or out-of-process profilers, which read co_code_adaptive at a fixed
   offset) can see moves:

   - PyCodeObject: _co_instrumentation_version (uint32_t) sits in the four
     bytes of padding between _co_firsttraceable (int) and co_extra (pointer);
     the static assertions below check that co_extra and co_code_adaptive keep
     their offsets.  The per-code monitoring data hangs off co_extra, whose
     layout is private to Objects/codeobject.c (_PyCode_GetExtra/SetExtra are
     the only interface).
   - PyInterpreterState: opaque outside the core; the new state is appended.
   - PyThreadState: two fields appended (legacy_tracing.c); it is only ever
     allocated by the runtime.  _PyCFrame: unchanged.
   - Opcode numbers of existing instructions are unchanged; the new ones use
     the free range at the top (Lib/opcode.py), so the bytecode magic number
     and .pyc files stay those of stock 3.11.
*/

#include "Python.h"
#include "pycore_call.h"          // _PyObject_VectorcallTstate()
#include "pycore_code.h"          // _PyCode_Quicken()
#include "pycore_frame.h"         // _PyInterpreterFrame
#include "pycore_instruments.h"
#include "pycore_interp.h"        // PyInterpreterState.monitoring
#include "pycore_legacy_tracing.h" // _PyLegacyTracing_Line()
#include "pycore_namespace.h"     // _PyNamespace_New()
#include "pycore_object.h"        // _PyObject_IMMORTAL_INIT()
#include "pycore_opcode.h"        // _PyOpcode_Deopt
#include "pycore_pyerrors.h"      // _PyErr_Fetch()
#include "pycore_pystate.h"       // _PyInterpreterState_GET()

#include <stddef.h>               // offsetof()

/* co_extra and co_code_adaptive must not move (see "ABI" above). */
static_assert(offsetof(PyCodeObject, _co_instrumentation_version) ==
              offsetof(PyCodeObject, _co_firsttraceable) + sizeof(int),
              "_co_instrumentation_version must follow _co_firsttraceable");
static_assert(offsetof(PyCodeObject, co_extra) ==
              _Py_SIZE_ROUND_UP(offsetof(PyCodeObject, _co_firsttraceable) + sizeof(int),
                                _Alignof(void *)),
              "_co_instrumentation_version must fit in padding before co_extra");
static_assert(offsetof(PyCodeObject, co_code_adaptive) ==
              offsetof(PyCodeObject, co_extra) + sizeof(void *),
              "co_code_adaptive moved");

/* The sentinels: plain objects, as upstream has them. */
PyObject _PyInstrumentation_DISABLE = _PyObject_IMMORTAL_INIT(&PyBaseObject_Type);
PyObject _PyInstrumentation_MISSING = _PyObject_IMMORTAL_INIT(&PyBaseObject_Type);

static const char *const event_names[_PY_MONITORING_EVENTS] = {
    [PY_MONITORING_EVENT_PY_START] = "PY_START",
    [PY_MONITORING_EVENT_PY_RESUME] = "PY_RESUME",
    [PY_MONITORING_EVENT_PY_RETURN] = "PY_RETURN",
    [PY_MONITORING_EVENT_PY_YIELD] = "PY_YIELD",
    [PY_MONITORING_EVENT_CALL] = "CALL",
    [PY_MONITORING_EVENT_LINE] = "LINE",
    [PY_MONITORING_EVENT_INSTRUCTION] = "INSTRUCTION",
    [PY_MONITORING_EVENT_JUMP] = "JUMP",
    [PY_MONITORING_EVENT_BRANCH_LEFT] = "BRANCH_LEFT",
    [PY_MONITORING_EVENT_BRANCH_RIGHT] = "BRANCH_RIGHT",
    [PY_MONITORING_EVENT_STOP_ITERATION] = "STOP_ITERATION",
    [PY_MONITORING_EVENT_RAISE] = "RAISE",
    [PY_MONITORING_EVENT_EXCEPTION_HANDLED] = "EXCEPTION_HANDLED",
    [PY_MONITORING_EVENT_PY_UNWIND] = "PY_UNWIND",
    [PY_MONITORING_EVENT_PY_THROW] = "PY_THROW",
    [PY_MONITORING_EVENT_RERAISE] = "RERAISE",
    [PY_MONITORING_EVENT_C_RETURN] = "C_RETURN",
    [PY_MONITORING_EVENT_C_RAISE] = "C_RAISE",
    [PY_MONITORING_EVENT_BRANCH] = "BRANCH",
};

#define ALL_EVENTS ((1 << _PY_MONITORING_EVENTS) - 1)

/* The instrumented form of each base instruction that carries an event. */
static const uint8_t instrumented_opcode[256] = {
    [RESUME] = INSTRUMENTED_RESUME,
    [RETURN_VALUE] = INSTRUMENTED_RETURN_VALUE,
    [YIELD_VALUE] = INSTRUMENTED_YIELD_VALUE,
    [CALL] = INSTRUMENTED_CALL,
    [CALL_FUNCTION_EX] = INSTRUMENTED_CALL_FUNCTION_EX,
    [FOR_ITER] = INSTRUMENTED_FOR_ITER,
    [SEND] = INSTRUMENTED_SEND,
};

/* The event an instruction carries, or -1. */
static inline int
instruction_event(int base_opcode, int oparg)
{
    if (!instrumented_opcode[base_opcode]) {
        /* Most instructions: one load, not the switch's jump table */
        return -1;
    }
    switch (base_opcode) {
        case RESUME:
            return oparg == 0 ? PY_MONITORING_EVENT_PY_START
                              : PY_MONITORING_EVENT_PY_RESUME;
        case RETURN_VALUE:
            return PY_MONITORING_EVENT_PY_RETURN;
        case YIELD_VALUE:
            return PY_MONITORING_EVENT_PY_YIELD;
        case CALL:
        case CALL_FUNCTION_EX:
            return PY_MONITORING_EVENT_CALL;
        case FOR_ITER:
        case SEND:
            return PY_MONITORING_EVENT_STOP_ITERATION;
        default:
            return -1;
    }
}


/* Per-code-object data ----------------------------------------------------*/

/* The side table for LINE, INSTRUCTION, JUMP and the branch events: one entry
   per code unit, allocated while some tool wants one of these events in the
   code object (or has DISABLEd one of them there), freed otherwise. */
typedef struct {
    int line;                   /* the code unit's line number, -1 if none */
    uint8_t line_start : 1;     /* LINE may fire here (create_line_table()) */
    uint8_t after_extended_arg : 1; /* an EXTENDED_ARG precedes this unit */
    uint8_t line_original;      /* the opcode INSTRUMENTED_LINE hides */
    uint8_t instr_original;     /* the opcode INSTRUMENTED_INSTRUCTION hides */
    uint8_t line_disabled;      /* tools that DISABLEd LINE for this line */
    uint8_t instr_disabled;     /* tools that DISABLEd INSTRUCTION here */
    uint8_t branch_original;    /* the jump INSTRUMENTED_BRANCH stands for */
    uint8_t left_disabled;      /* tools that DISABLEd JUMP or BRANCH_LEFT here */
    uint8_t right_disabled;     /* tools that DISABLEd BRANCH_RIGHT here */
    uint8_t branch_disabled;    /* tools that DISABLEd BRANCH here */
    uint8_t loop_test;          /* taking this jump is BRANCH_LEFT (is_loop_test()) */
    uint8_t quiet;              /* the form the instruction had when it was
                                   layered (quiet_opcode() chooses from it
                                   what frames without events run) */
} _PyCoLineEntry;


/* A code object has data for each interpreter that monitors it: code objects
   of the deep-frozen stdlib are shared by all interpreters of the process, and
   each interpreter has its own tools, local events and DISABLEd locations.
   The code object's monitoring slot holds a list of them (usually one long);
   each belongs to its interpreter and dies with it or with the code object,
   whichever goes first. */
struct _PyCoMonitoringData {
    PyCodeObject *code;                 /* borrowed: the data dies with it */
    PyInterpreterState *interp;
    _PyCoMonitoringData *prev, *next;   /* interp->monitoring.instrumented_code */
    _PyCoMonitoringData *other;         /* the next interpreter's data for code */
    _Py_Monitors local;                 /* set_local_events() */
    uint8_t *disabled;                  /* per code unit: tools that DISABLEd
                                           this location, or NULL */
    Py_ssize_t instrumented;            /* instrumented instructions */
    _PyCoLineEntry *lines;              /* LINE/INSTRUCTION side table, or NULL */
    _Py_Monitors exc_disabled;          /* tools that DISABLEd an exception
                                           event (set locally) in this code */
};

/* The stamp of code whose layers an interpreter that is gone left behind
   (orphan_data()): new_version() never hands it out. */
#define ORPHANED_VERSION UINT32_MAX

/* interp's data for co, or NULL */
static _PyCoMonitoringData *
get_data(PyCodeObject *co, PyInterpreterState *interp)
{
    _PyCoMonitoringData *data = _PyCode_GetMonitoringData(co);
    while (data != NULL && data->interp != interp) {
        data = data->other;
    }
    return data;
}

static _PyCoMonitoringData *
get_or_create_data(PyCodeObject *co, PyInterpreterState *interp)
{
    _PyCoMonitoringData *data = get_data(co, interp);
    if (data != NULL) {
        return data;
    }
    data = PyMem_Calloc(1, sizeof(_PyCoMonitoringData));
    if (data == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    _PyCoMonitoringData *head = _PyCode_GetMonitoringData(co);
    if (head != NULL) {
        /* Second in the list: the first one's interpreter owns what is
           instrumented in the bytecode (see layer_data()). */
        data->other = head->other;
        head->other = data;
    }
    else if (_PyCode_SetMonitoringData(co, data) < 0) {
        PyMem_Free(data);
        return NULL;
    }
    data->code = co;
    data->interp = interp;
    data->next = interp->monitoring.instrumented_code;
    if (data->next != NULL) {
        data->next->prev = data;
    }
    interp->monitoring.instrumented_code = data;
    return data;
}

/* Take data out of its interpreter's list. */
static void
unlink_data(_PyCoMonitoringData *data)
{
    if (data->prev != NULL) {
        data->prev->next = data->next;
    }
    else {
        data->interp->monitoring.instrumented_code = data->next;
    }
    if (data->next != NULL) {
        data->next->prev = data->prev;
    }
    data->prev = data->next = NULL;
}

/* Unlink data from its interpreter and its code object, and free it. */
static void
free_data(_PyCoMonitoringData *data)
{
    _PyCoMonitoringData *head = _PyCode_GetMonitoringData(data->code);
    if (head == data) {
        /* Cannot fail: the code object has its co_extra block already. */
        (void)_PyCode_SetMonitoringData(data->code, data->other);
    }
    else {
        while (head->other != data) {
            head = head->other;
        }
        head->other = data->other;
    }
    if (data->interp != NULL) {         /* else an orphan: in no list */
        unlink_data(data);
    }
    PyMem_Free(data->disabled);
    PyMem_Free(data->lines);
    PyMem_Free(data);
}

void
_PyMonitoring_CodeDealloc(PyCodeObject *co)
{
    _PyCoMonitoringData *data;
    while ((data = _PyCode_GetMonitoringData(co)) != NULL) {
        free_data(data);
    }
    co->_co_instrumentation_version = 0;
}


/* Rewriting bytecode -------------------------------------------------------*/

/* The bytecode of a code object shared by several interpreters (the frozen
   standard library's) can be instrumented for one of them at a time: the one
   whose data comes first in co's list.  Its side table describes the layers
   in the bytecode (INSTRUMENTED_LINE and friends hide the opcode below
   them), so that is the table to look through, whichever interpreter runs
   the code.  The other interpreters' stamps do not match co's, so each
   instruments co for itself at its next RESUME there (instrument_for()). */
static inline _PyCoMonitoringData *
layer_data(PyCodeObject *co)
{
    return _PyCode_GetMonitoringData(co);
}

/* The tools that have a callback for `event`.  CALL locations also deliver
   C_RETURN and C_RAISE, so a callback for either counts for CALL. */
static uint8_t
tools_with_callback(PyInterpreterState *interp, int event)
{
    /* sys.settrace and sys.setprofile take every event they switch on,
       globally or locally (legacy_tracing.c). */
    uint8_t tools = _PY_MONITORING_LEGACY_TOOLS;
    for (int tool = 0; tool < PY_MONITORING_TOOL_IDS; tool++) {
        PyObject **callables = interp->monitoring.callables[tool];
        if (callables[event] != NULL ||
            (event == PY_MONITORING_EVENT_CALL &&
             (callables[PY_MONITORING_EVENT_C_RETURN] != NULL ||
              callables[PY_MONITORING_EVENT_C_RAISE] != NULL)))
        {
            tools |= (uint8_t)(1 << tool);
        }
    }
    return tools;
}

/* Events wanted in `co` by any tool: the global sets plus co's local ones,
   counting only tools that registered a callback for the event (an event
   nobody receives must not cost anything; register_callback() brings the
   instrumentation up to date). */
static void
wanted_events(PyInterpreterState *interp, _PyCoMonitoringData *data, _Py_Monitors *out)
{
    for (int e = 0; e < _PY_MONITORING_EVENTS; e++) {
        out->tools[e] = interp->monitoring.events.tools[e];
        if (data != NULL) {
            out->tools[e] |= data->local.tools[e];
        }
        if (out->tools[e]) {
            out->tools[e] &= tools_with_callback(interp, e);
        }
    }
}

static int
wants_any_instruction_event(const _Py_Monitors *m)
{
    static const int events[] = {
        PY_MONITORING_EVENT_PY_START, PY_MONITORING_EVENT_PY_RESUME,
        PY_MONITORING_EVENT_PY_RETURN, PY_MONITORING_EVENT_PY_YIELD,
        PY_MONITORING_EVENT_CALL, PY_MONITORING_EVENT_STOP_ITERATION,
    };
    for (size_t i = 0; i < Py_ARRAY_LENGTH(events); i++) {
        if (m->tools[events[i]]) {
            return 1;
        }
    }
    return 0;
}

/* Write the quickened form of `base` at instrs[i]: what the specializer would
   have left there before it specialized anything. */
static void
restore_quickened(_Py_CODEUNIT *instrs, int i, int base)
{
    int adaptive = _PyOpcode_Adaptive[base];
    if (adaptive) {
        _Py_SET_OPCODE(instrs[i], adaptive);
        instrs[i + 1] = adaptive_counter_start();
    }
    else if (base == RESUME) {
        _Py_SET_OPCODE(instrs[i], RESUME_QUICK);
    }
    else {
        _Py_SET_OPCODE(instrs[i], base);
    }
}

static void
ensure_quickened(PyCodeObject *co)
{
    if (co->co_warmup != 0) {
        co->co_warmup = 0;
        _PyCode_Quicken(co);
    }
}

/* LINE and INSTRUCTION are layers over the instruction-level instrumentation:
   INSTRUMENTED_LINE and INSTRUMENTED_INSTRUCTION can be written over any
   instruction (instrumented or not, EXTENDED_ARG included, RESUME and what
   precedes it excepted); the side table (_PyCoLineEntry) remembers what each
   hides.  At one location the order is INSTRUMENTED_LINE, which hides
   INSTRUMENTED_INSTRUCTION if INSTRUCTION is wanted there too, which hides
   the instruction's own instrumented opcode or its generic (unspecialized)
   form: specialization rewrites the executing instruction, so nothing under a
   layer may be adaptive or specialized.  Both layers keep the oparg, so an
   extended oparg flows through them, and the hidden instruction keeps its
   inline cache entries.

   LINE fires where CPython 3.12+ fires it: at a "line start", before an
   instruction whose line differs from the line of the instruction the frame
   executed before it, or whenever that was RESUME.  Line starts, the only
   places that can satisfy the rule and the only ones that get
   INSTRUMENTED_LINE, are the instructions with a line whose predecessor in
   the bytecode has another line (or none), jump and exception handler
   targets, and the first instruction after the RESUME that starts the frame
   (so a function written on its def line reports that line; upstream 3.13
   does not, gh-155992).  The instruction executed before is frame->prev_instr on
   entry to INSTRUMENTED_LINE (ceval.c), so a backward jump that stays on one
   line does not fire again.  DISABLE switches LINE off for that tool on that
   whole line of the code object, so a loop whose body shares its header's
   line stops costing anything once its line is disabled.

   Some specialized instructions execute the instruction after them without
   dispatching it (the LOAD_FAST/STORE_FAST/LOAD_CONST superinstructions,
   COMPARE_OP_*_JUMP, BINARY_OP_INPLACE_ADD_UNICODE, the PRECALL forms that
   skip CALL).  Where the next instruction is layered they go back to their
   quickened form; their specializers check what follows, except PRECALL's,
   so the PRECALL of a layered CALL is the generic PRECALL. */

static inline int
under_layers(const _PyCoLineEntry *lines, const _Py_CODEUNIT *instrs, int i)
{
    int op = _Py_OPCODE(instrs[i]);
    if (op == INSTRUMENTED_LINE) {
        op = lines[i].line_original;
    }
    if (op == INSTRUMENTED_INSTRUCTION) {
        op = lines[i].instr_original;
    }
    return op;
}

/* The deoptimized opcode at i, looking through every layer. */
static inline int
hidden_base(const _PyCoLineEntry *lines, const _Py_CODEUNIT *instrs, int i)
{
    int op = lines != NULL ? under_layers(lines, instrs, i) : _Py_OPCODE(instrs[i]);
    if (op == INSTRUMENTED_BRANCH) {
        op = lines[i].branch_original;
    }
    return _PyOpcode_Deopt[op];
}

/* Which way each jump instruction jumps: +1 forward, -1 backward (a table,
   because create_line_table() asks it of every instruction). */
static const int8_t jump_direction[256] = {
    [JUMP_FORWARD] = 1,
    [JUMP_IF_FALSE_OR_POP] = 1,
    [JUMP_IF_TRUE_OR_POP] = 1,
    [POP_JUMP_FORWARD_IF_FALSE] = 1,
    [POP_JUMP_FORWARD_IF_TRUE] = 1,
    [POP_JUMP_FORWARD_IF_NONE] = 1,
    [POP_JUMP_FORWARD_IF_NOT_NONE] = 1,
    [FOR_ITER] = 1,
    [SEND] = 1,
    [JUMP_BACKWARD] = -1,
    [JUMP_BACKWARD_NO_INTERRUPT] = -1,
    [POP_JUMP_BACKWARD_IF_FALSE] = -1,
    [POP_JUMP_BACKWARD_IF_TRUE] = -1,
    [POP_JUMP_BACKWARD_IF_NONE] = -1,
    [POP_JUMP_BACKWARD_IF_NOT_NONE] = -1,
};

/* The target of a jump instruction at i (base opcode base), or -1. */
static inline int
jump_target(int base, int i, int oparg)
{
    int direction = jump_direction[base];
    if (direction == 0) {
        return -1;
    }
    return i + 1 + _PyOpcode_Caches[base] + direction * oparg;
}

/* The full oparg of the instruction at j, EXTENDED_ARG prefixes included, in
   deoptimized (or instrumented) bytecode. */
static int
full_oparg(const _Py_CODEUNIT *code, int j)
{
    int oparg = _Py_OPARG(code[j]);
    int shift = 8;
    for (int k = j - 1; k >= 0 && _PyOpcode_Deopt[_Py_OPCODE(code[k])] == EXTENDED_ARG; k--) {
        oparg |= _Py_OPARG(code[k]) << shift;
        shift += 8;
    }
    return oparg;
}

/* 3.11 compiles the test of a while loop twice: at the top, jumping forward
   out of the loop, and again at the bottom, jumping back into the body
   (POP_JUMP_BACKWARD_IF_*).  3.14 tests once, at the top, where going on into
   the body is BRANCH_LEFT; so at the bottom test, taking the jump (into the
   body) is BRANCH_LEFT and falling through (out of the loop) BRANCH_RIGHT.
   The bottom test is recognised by its shape: its target, the start of the
   body, follows a forward conditional jump that leaves the loop exactly where
   the bottom test falls through to.  Other backward conditional jumps (an
   "if" at the end of a loop body, threaded to the loop's header) keep the
   usual meaning: taking the jump skips the body of the "if". */
static int
is_loop_test(const _Py_CODEUNIT *code, int n, int base, int i, int target)
{
    switch (base) {
        case POP_JUMP_BACKWARD_IF_FALSE:
        case POP_JUMP_BACKWARD_IF_TRUE:
        case POP_JUMP_BACKWARD_IF_NONE:
        case POP_JUMP_BACKWARD_IF_NOT_NONE:
            break;
        default:
            return 0;
    }
    int t = target - 1;
    if (t < 0 || t >= n) {
        return 0;
    }
    switch (_PyOpcode_Deopt[_Py_OPCODE(code[t])]) {
        case POP_JUMP_FORWARD_IF_FALSE:
        case POP_JUMP_FORWARD_IF_TRUE:
        case POP_JUMP_FORWARD_IF_NONE:
        case POP_JUMP_FORWARD_IF_NOT_NONE:
            return t + 1 + full_oparg(code, t) == i + 1;
        default:
            return 0;
    }
}

static int
read_varint(const unsigned char **p, const unsigned char *end)
{
    if (*p >= end) {
        return -1;
    }
    int b = *(*p)++;
    int val = b & 63;
    while ((b & 64) && *p < end) {
        b = *(*p)++;
        val = (val << 6) | (b & 63);
    }
    return val;
}

static void
mark_line_start(_PyCoLineEntry *lines, const _Py_CODEUNIT *instrs, int n, int first, int t)
{
    if (t >= first && t < n && lines[t].line >= 0 &&
        _PyOpcode_Deopt[_Py_OPCODE(instrs[t])] != RESUME)
    {
        lines[t].line_start = 1;
    }
}

/* Build co's side table.  Called while no layer is in co's bytecode. */
static _PyCoLineEntry *
create_line_table(PyCodeObject *co)
{
    /* The documented size (Doc/library/sys.monitoring.rst) */
    Py_BUILD_ASSERT(sizeof(_PyCoLineEntry) == 16);
    int n = (int)Py_SIZE(co);
    _PyCoLineEntry *lines = PyMem_Malloc((n > 0 ? n : 1) * sizeof(_PyCoLineEntry));
    if (lines == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    /* The lines come from 3.11's own array of them (-1: no line), which
       sys.settrace's 'call' events and frame.f_lineno need too: decoding
       co_linetable once serves all three.  Each entry is written whole here
       (cheaper than zeroing the table first). */
    if (_PyCode_InitLineArray(co) < 0) {
        PyMem_Free(lines);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        lines[i] = (_PyCoLineEntry){.line = _PyCode_LineNumberFromArray(co, i)};
    }
    const _Py_CODEUNIT *instrs = _PyCode_CODE(co);
    int first = co->_co_firsttraceable;
    int prev_line = -1, prev_start = 0;
    for (int i = first; i < n; i++) {
        int base = _PyOpcode_Deopt[_Py_OPCODE(instrs[i])];
        int line = lines[i].line;
        if ((line != prev_line || prev_start) && line >= 0 && base != RESUME) {
            lines[i].line_start = 1;
        }
        prev_line = line;
        /* The first line fires when the frame starts even if it is the def
           line (a one-line function), but not again after a resumption that
           stays on the line (as upstream). */
        prev_start = base == RESUME && _Py_OPARG(instrs[i]) == 0;
        if (base == EXTENDED_ARG) {
            if (i + 1 < n) {
                lines[i + 1].after_extended_arg = 1;
            }
            continue;
        }
        if (jump_direction[base]) {
            int target = jump_target(base, i, full_oparg(instrs, i));
            mark_line_start(lines, instrs, n, first, target);
            lines[i].loop_test = (uint8_t)is_loop_test(instrs, n, base, i, target);
        }
        i += _PyOpcode_Caches[base];
    }
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(co->co_exceptiontable);
    const unsigned char *end = p + PyBytes_GET_SIZE(co->co_exceptiontable);
    while (p < end) {
        (void)read_varint(&p, end);             /* start */
        (void)read_varint(&p, end);             /* size */
        int target = read_varint(&p, end);
        (void)read_varint(&p, end);             /* depth and lasti */
        mark_line_start(lines, instrs, n, first, target);
    }
    return lines;
}

static inline uint8_t
line_tools_at(const _PyCoLineEntry *lines, int i, const _Py_Monitors *wanted)
{
    if (lines == NULL || !lines[i].line_start) {
        return 0;
    }
    return wanted->tools[PY_MONITORING_EVENT_LINE] & ~lines[i].line_disabled;
}

/* INSTRUCTION fires before every instruction from the first RESUME on, except
   RESUME itself (which must stay visible to check the version stamp). */
static inline uint8_t
instruction_tools_at(PyCodeObject *co, const _PyCoLineEntry *lines, int i, int base,
                     const _Py_Monitors *wanted)
{
    if (lines == NULL || i < co->_co_firsttraceable || base == RESUME) {
        return 0;
    }
    return wanted->tools[PY_MONITORING_EVENT_INSTRUCTION] & ~lines[i].instr_disabled;
}

/* JUMP at unconditional jumps; BRANCH_LEFT, BRANCH_RIGHT and BRANCH at
   conditional ones (0: not a jump; 1: unconditional; 2: conditional). */
static inline int
jump_kind(int base)
{
    switch (base) {
        case JUMP_FORWARD:
        case JUMP_BACKWARD:
            /* Not JUMP_BACKWARD_NO_INTERRUPT, which only closes the loop of
               a "yield from" or "await" (as upstream). */
            return 1;
        case JUMP_IF_FALSE_OR_POP:
        case JUMP_IF_TRUE_OR_POP:
        case POP_JUMP_FORWARD_IF_FALSE:
        case POP_JUMP_FORWARD_IF_TRUE:
        case POP_JUMP_FORWARD_IF_NONE:
        case POP_JUMP_FORWARD_IF_NOT_NONE:
        case POP_JUMP_BACKWARD_IF_FALSE:
        case POP_JUMP_BACKWARD_IF_TRUE:
        case POP_JUMP_BACKWARD_IF_NONE:
        case POP_JUMP_BACKWARD_IF_NOT_NONE:
        case FOR_ITER:
            return 2;
        default:
            return 0;
    }
}

static inline uint8_t
branch_tools_at(const _PyCoLineEntry *lines, int i, int base, const _Py_Monitors *wanted)
{
    if (lines == NULL) {
        return 0;
    }
    switch (jump_kind(base)) {
        case 1:
            return wanted->tools[PY_MONITORING_EVENT_JUMP] & ~lines[i].left_disabled;
        case 2:
            return (wanted->tools[PY_MONITORING_EVENT_BRANCH_LEFT] & ~lines[i].left_disabled) |
                   (wanted->tools[PY_MONITORING_EVENT_BRANCH_RIGHT] & ~lines[i].right_disabled) |
                   (wanted->tools[PY_MONITORING_EVENT_BRANCH] & ~lines[i].branch_disabled);
        default:
            return 0;
    }
}

/* The tools that want the event of the instruction at i (base opcode base). */
static inline uint8_t
event_tools_at(_PyCoMonitoringData *data, const _Py_Monitors *wanted,
               const _Py_CODEUNIT *instrs, int i, int base)
{
    int event = instruction_event(base, _Py_OPARG(instrs[i]));
    if (event < 0) {
        return 0;
    }
    uint8_t tools = wanted->tools[event];
    if (data->disabled != NULL) {
        tools &= ~data->disabled[i];
    }
    return tools;
}

/* Specialized forms that execute the next instruction themselves. */
static inline int
reaches_past_itself(int opcode, int base)
{
    if (opcode == base) {
        return 0;
    }
    switch (base) {
        case LOAD_FAST:
        case STORE_FAST:
        case LOAD_CONST:
        case COMPARE_OP:
        case BINARY_OP:
            return 1;
        default:
            return 0;
    }
}

/* Frames that receive no events are those of callbacks and trace functions
   (tstate->tracing): INSTRUMENTED_LINE and INSTRUMENTED_INSTRUCTION send them
   at once to the opcode that _PyMonitoring_QuietOpcode() chooses with this.
   Nothing under a layer may be specialized for the frames that do get
   events (see above), but quiet frames may run the specialized form the
   instruction had when it was layered (lines[i].quiet): that form checks
   its caches, and a miss under a layer goes to the generic form without
   respecializing (ceval.c, miss), so the layer stays.  Excluded are the forms
   that run or skip the following instruction, whose events would be lost
   (superinstructions, COMPARE_OP_*_JUMP, BINARY_OP_INPLACE_ADD_UNICODE, the
   PRECALL forms that make the call), CALL (whose forms pair with PRECALL's),
   and adaptive forms, which rewrite the instruction.  Without this, an
   INSTRUCTION callback ran its own code unspecialized, through the layers:
   more than the rest of the event. */
static int
quiet_opcode(int op, int base, int generic)
{
    if (generic != base) {
        return generic;         /* an instrumented instruction: it checks */
    }
    if (op >= MIN_INSTRUMENTED_OPCODE || op == base || _PyOpcode_Deopt[op] != base ||
        op == _PyOpcode_Adaptive[base]) {
        return generic;
    }
    switch (base) {
        case PRECALL:
        case CALL:
        case COMPARE_OP:
            return generic;
        default:
            break;
    }
    switch (op) {
        case LOAD_FAST__LOAD_FAST:
        case LOAD_FAST__LOAD_CONST:
        case LOAD_CONST__LOAD_FAST:
        case STORE_FAST__LOAD_FAST:
        case STORE_FAST__STORE_FAST:
        case BINARY_OP_INPLACE_ADD_UNICODE:
            return generic;
        default:
            return op;
    }
}

int
_PyMonitoring_QuietOpcode(PyCodeObject *co, int index)
{
    _PyCoMonitoringData *data = layer_data(co);
    assert(data != NULL && data->lines != NULL);
    /* Worked out here, not when the layer is put on: few layers are ever
       run by a quiet frame. */
    const _PyCoLineEntry *lines = data->lines;
    const _Py_CODEUNIT *instrs = _PyCode_CODE(co);
    return quiet_opcode(lines[index].quiet, hidden_base(lines, instrs, index),
                        under_layers(lines, instrs, index));
}

/* The superinstruction that runs `first` and then `second` (3.11's
   quickening forms them: specialize.c), or 0. */
static int
superinstruction(int first, int second)
{
    switch (second) {
        case LOAD_FAST:
            return first == LOAD_FAST ? LOAD_FAST__LOAD_FAST
                 : first == STORE_FAST ? STORE_FAST__LOAD_FAST
                 : first == LOAD_CONST ? LOAD_CONST__LOAD_FAST : 0;
        case STORE_FAST:
            return first == STORE_FAST ? STORE_FAST__STORE_FAST : 0;
        case LOAD_CONST:
            return first == LOAD_FAST ? LOAD_FAST__LOAD_CONST : 0;
        default:
            return 0;
    }
}

/* One step of fusing pairs again, at instruction i (opcode op, base opcode
   base, -1 if instrumented): fuse it with the plain first half at prev, if
   any, and return where the next step's first half is (-1: none).  Only a
   first half in its plain form can fuse (not instrumented, not already fused
   with something else). */
static inline int
fuse_with_previous(_Py_CODEUNIT *instrs, int prev, int i, int op, int base)
{
    if (prev >= 0 && base >= 0) {
        int super = superinstruction(_Py_OPCODE(instrs[prev]), base);
        if (super) {
            _Py_SET_OPCODE(instrs[prev], super);
        }
    }
    return (op == LOAD_FAST || op == STORE_FAST || op == LOAD_CONST) ? i : -1;
}

/* Put back the superinstructions that quickening made and instrumentation
   split (an instruction may not run the next one while that one is
   instrumented): a pair fuses again once neither half is instrumented.
   Without this, a loop whose lines were all DISABLEd kept running every
   LOAD_FAST on its own, several percent slower than before. */
static void
refuse_superinstructions(PyCodeObject *co)
{
    _Py_CODEUNIT *instrs = _PyCode_CODE(co);
    int n = (int)Py_SIZE(co);
    int prev = -1;              /* index of a plain, unfused first half */
    for (int i = 0; i < n; i++) {
        int op = _Py_OPCODE(instrs[i]);
        int base = op < MIN_INSTRUMENTED_OPCODE ? _PyOpcode_Deopt[op] : -1;
        prev = fuse_with_previous(instrs, prev, i, op, base);
        if (base >= 0) {
            i += _PyOpcode_Caches[base];
        }
    }
}

/* Has some tool DISABLEd an event at this location? */
static inline int
any_disabled(const _PyCoLineEntry *entry)
{
    return (entry->line_disabled | entry->instr_disabled | entry->left_disabled |
            entry->right_disabled | entry->branch_disabled) != 0;
}

static inline int
wants_nothing(const _Py_Monitors *wanted)
{
    for (int e = 0; e < _PY_MONITORING_EVENTS; e++) {
        if (wanted->tools[e]) {
            return 0;
        }
    }
    return 1;
}

/* instrument_code() when nothing is wanted: the last tool went away, or the
   interpreter is being finalized, which takes every instrumented code object
   it leaves through here (coverage.py keeps all it measured alive to the
   end).  Only what is instrumented changes: it goes back to its quickened
   form, the generic PRECALL included (see instrument_code()), and
   quickening's pairs fuse again (fuse_with_previous()) in the same pass.
   The result is the general pass's for an empty `wanted`, at a fraction of
   its cost. */
static void
remove_instrumentation(PyCodeObject *co, _PyCoMonitoringData *data)
{
    _Py_CODEUNIT *instrs = _PyCode_CODE(co);
    int n = (int)Py_SIZE(co);
    _PyCoLineEntry *lines = data->lines;
    int keep_lines = 0;
    int prev = -1;              /* index of a plain, unfused first half */
    for (int i = 0; i < n; i++) {
        int op = _Py_OPCODE(instrs[i]);
        int base;
        if (op >= MIN_INSTRUMENTED_OPCODE || op == PRECALL) {
            base = hidden_base(lines, instrs, i);
            restore_quickened(instrs, i, base);
            op = _Py_OPCODE(instrs[i]);
        }
        else {
            base = _PyOpcode_Deopt[op];
        }
        prev = fuse_with_previous(instrs, prev, i, op, base);
        if (lines != NULL && !keep_lines && any_disabled(&lines[i])) {
            keep_lines = 1;
        }
        i += _PyOpcode_Caches[base];
    }
    data->instrumented = 0;
    if (lines != NULL && !keep_lines) {
        /* Nothing DISABLEd either: no side table. */
        PyMem_Free(lines);
        data->lines = NULL;
    }
}

/* The loop of instrument_code().  `clean`: the bytecode has no instrumented
   opcode (data->instrumented is 0: code instrumented for the first time, or
   after its last tool went), so each instruction is its own quickened form,
   with no generic PRECALL and no split pair, and the questions about what
   the layers hide have one answer.  instrument_code() calls it with constant
   flags, so that the compiler makes one loop for that case with INSTRUCTION
   and the jump and branch events not wanted (what sys.settrace,
   sys.setprofile, line coverage and profilers ask for) and one for all the
   others: through the general one, the first instrumentation of large code
   took 1.7 times the instructions (a module-level dict literal of 25,000
   entries, the shape of gh-127953, is 127,000 code units). */
static inline Py_ALWAYS_INLINE void
instrument_loop(PyCodeObject *co, _PyCoMonitoringData *data, const _Py_Monitors *wanted,
                const int clean, const int had_layers, const int want_events,
                const int want_instr, const int want_branches)
{
    _Py_CODEUNIT *instrs = _PyCode_CODE(co);
    int n = (int)Py_SIZE(co);
    _PyCoLineEntry *lines = data->lines;
    Py_ssize_t count = 0;
    int keep_lines = 0;
/* The base opcode at j, and whether it will run from under a layer or
   INSTRUMENTED_BRANCH */
#define BASE_AT(j) (clean ? _PyOpcode_Deopt[_Py_OPCODE(instrs[j])] : hidden_base(lines, instrs, (j)))
#define LAYERED_AT(j) \
    ((j) < n && lines != NULL && \
     (line_tools_at(lines, (j), wanted) || \
      (want_instr && instruction_tools_at(co, lines, (j), BASE_AT(j), wanted)) || \
      (want_branches && BASE_AT(j) != FOR_ITER && \
       branch_tools_at(lines, (j), BASE_AT(j), wanted))))
    for (int i = 0; i < n; i++) {
        int opcode = _Py_OPCODE(instrs[i]);
        assert(!clean || (opcode < MIN_INSTRUMENTED_OPCODE && opcode != PRECALL));
        int under = clean || lines == NULL ? opcode : under_layers(lines, instrs, i);
        int base = BASE_AT(i);
        int next = i + 1 + _PyOpcode_Caches[base];
        /* inner: the opcode to run at i under the layers; requicken: write
           the quickened form of base instead */
        int inner = under;
        int requicken = 0;
        uint8_t branch_tools = want_branches ? branch_tools_at(lines, i, base, wanted) : 0;
        if ((want_events && event_tools_at(data, wanted, instrs, i, base)) ||
            (base == FOR_ITER && branch_tools)) {
            inner = instrumented_opcode[base];
            count++;
            if (branch_tools) {
                keep_lines = 1;     /* FOR_ITER's branch events need the table */
            }
        }
        else if (branch_tools) {
            inner = INSTRUMENTED_BRANCH;
            lines[i].branch_original = base;
            count++;
            keep_lines = 1;
        }
        else {
            int call = -1;
            if (base == PRECALL) {
                call = next;
                while (call < n && BASE_AT(call) == EXTENDED_ARG) {
                    call++;
                }
                if (call >= n || BASE_AT(call) != CALL) {
                    call = -1;
                }
            }
            if (call >= 0 && want_events && event_tools_at(data, wanted, instrs, call, CALL)) {
                inner = INSTRUMENTED_PRECALL;
            }
            else if (call >= 0 && LAYERED_AT(call)) {
                inner = PRECALL;        /* generic: never skips the CALL */
            }
            else if ((!clean && (under >= MIN_INSTRUMENTED_OPCODE || under != opcode ||
                                 under == PRECALL)) ||  /* generic, left by the case above */
                     (reaches_past_itself(under, base) && LAYERED_AT(next)))
            {
                inner = base;
                requicken = 1;
            }
        }
        uint8_t line_tools = line_tools_at(lines, i, wanted);
        uint8_t instr_tools = want_instr ? instruction_tools_at(co, lines, i, base, wanted) : 0;
        if (line_tools || instr_tools) {
            int generic = inner >= MIN_INSTRUMENTED_OPCODE ? inner : base;
            /* The specialized form, if it is still there (not layered yet)
               or was kept when the layer was put over it. */
            int quick = clean || opcode < MIN_INSTRUMENTED_OPCODE ? opcode
                        : (opcode == INSTRUMENTED_LINE || opcode == INSTRUMENTED_INSTRUCTION)
                          ? lines[i].quiet : generic;
            lines[i].quiet = (uint8_t)quick;
            if (line_tools) {
                _Py_SET_OPCODE(instrs[i], INSTRUMENTED_LINE);
                lines[i].line_original = instr_tools ? INSTRUMENTED_INSTRUCTION : generic;
            }
            else {
                _Py_SET_OPCODE(instrs[i], INSTRUMENTED_INSTRUCTION);
            }
            if (instr_tools) {
                lines[i].instr_original = generic;
            }
            count++;
            keep_lines = 1;
        }
        else if (requicken) {
            restore_quickened(instrs, i, base);
        }
        else if (inner != opcode) {
            _Py_SET_OPCODE(instrs[i], inner);
        }
        if (lines != NULL && !keep_lines && any_disabled(&lines[i])) {
            keep_lines = 1;
        }
        i = next - 1;
    }
#undef LAYERED_AT
#undef BASE_AT
    /* Without instrumented opcodes before this pass, quickening's pairs are
       all still fused, or split because their second half is now layered:
       there is nothing for refuse_superinstructions() to do. */
    if (had_layers) {
        refuse_superinstructions(co);
    }
    data->instrumented = count;
    if (lines != NULL && !keep_lines) {
        /* No layer left and nothing DISABLEd: no side table either. */
        PyMem_Free(lines);
        data->lines = NULL;
    }
}

/* One pass over the bytecode: instrument every location where some tool
   wants the event and has not DISABLEd it, de-instrument the others. */
static void
instrument_code(PyCodeObject *co, _PyCoMonitoringData *data, const _Py_Monitors *wanted)
{
    ensure_quickened(co);
    if (wants_nothing(wanted)) {
        remove_instrumentation(co, data);
        return;
    }
    /* A copy the side table's writes cannot alias, and which kinds of event
       are wanted at all: the loop asks only what may have an answer. */
    const _Py_Monitors local_wanted = *wanted;
    const int had_layers = data->instrumented != 0;
    const int want_events = wants_any_instruction_event(&local_wanted);
    const int want_instr = local_wanted.tools[PY_MONITORING_EVENT_INSTRUCTION] != 0;
    const int want_branches = (local_wanted.tools[PY_MONITORING_EVENT_JUMP] |
                               local_wanted.tools[PY_MONITORING_EVENT_BRANCH_LEFT] |
                               local_wanted.tools[PY_MONITORING_EVENT_BRANCH_RIGHT] |
                               local_wanted.tools[PY_MONITORING_EVENT_BRANCH]) != 0;
    if (!had_layers && !want_instr && !want_branches) {
        instrument_loop(co, data, &local_wanted, 1, 0, want_events, 0, 0);
    }
    else {
        instrument_loop(co, data, &local_wanted, 0, had_layers, want_events,
                        want_instr, want_branches);
    }
}

/* Remove the layers an interpreter that is gone left in co (see
   orphan_data()), and their side table. */
static void
drop_orphan(PyCodeObject *co)
{
    _PyCoMonitoringData *head = layer_data(co);
    if (head != NULL && head->interp == NULL) {
        _Py_Monitors none = {{0}};
        instrument_code(co, head, &none);
        free_data(head);
    }
}

/* Make data the layer owner of co: first take another interpreter's
   instrumentation out of co's bytecode, with that interpreter's side table. */
static void
own_bytecode(PyCodeObject *co, _PyCoMonitoringData *data)
{
    drop_orphan(co);
    _PyCoMonitoringData *head = layer_data(co);
    if (head != data) {
        if (head->instrumented || head->lines != NULL) {
            _Py_Monitors none = {{0}};
            instrument_code(co, head, &none);
        }
        while (head->other != data) {
            head = head->other;
        }
        head->other = data->other;
        data->other = layer_data(co);
        /* Cannot fail: co has its co_extra block already. */
        (void)_PyCode_SetMonitoringData(co, data);
    }
}

/* instrument_code() for data's interpreter. */
static void
instrument_for(PyCodeObject *co, _PyCoMonitoringData *data, const _Py_Monitors *wanted)
{
    own_bytecode(co, data);
    instrument_code(co, data, wanted);
}

static void add_legacy_lines(PyInterpreterState *interp, _PyCoMonitoringData *data);

static int
force_instrument(PyCodeObject *co, PyInterpreterState *interp)
{
    drop_orphan(co);
    _PyCoMonitoringData *data = get_data(co, interp);
    /* While the frames of a trace function want 'line' events, code gets
       them with its first instrumentation, not in a second pass after its
       'call' event (legacy_tracing.c, "Lines"): as many instructions again
       as the first one on code that runs once. */
    if (interp->monitoring.legacy_lines_hint &&
        (interp->monitoring.events.tools[PY_MONITORING_EVENT_PY_START] &
         (1 << PY_MONITORING_SYS_TRACE_ID)) &&
        (data == NULL || !(data->local.tools[PY_MONITORING_EVENT_LINE] &
                           (1 << PY_MONITORING_SYS_TRACE_ID))))
    {
        data = get_or_create_data(co, interp);
        if (data == NULL) {
            return -1;
        }
        add_legacy_lines(interp, data);
    }
    _Py_Monitors wanted;
    wanted_events(interp, data, &wanted);
    int want_layers = (wanted.tools[PY_MONITORING_EVENT_LINE] |
                       wanted.tools[PY_MONITORING_EVENT_INSTRUCTION] |
                       wanted.tools[PY_MONITORING_EVENT_JUMP] |
                       wanted.tools[PY_MONITORING_EVENT_BRANCH_LEFT] |
                       wanted.tools[PY_MONITORING_EVENT_BRANCH_RIGHT] |
                       wanted.tools[PY_MONITORING_EVENT_BRANCH]) != 0;
    if (wants_any_instruction_event(&wanted) || want_layers ||
        (data != NULL && (data->instrumented || data->lines != NULL)))
    {
        if (data == NULL) {
            data = get_or_create_data(co, interp);
            if (data == NULL) {
                return -1;
            }
        }
        /* The side table is made from the bytecode without another
           interpreter's layers. */
        own_bytecode(co, data);
        if (want_layers && data->lines == NULL) {
            data->lines = create_line_table(co);
            if (data->lines == NULL) {
                return -1;
            }
        }
        instrument_for(co, data, &wanted);
    }
    co->_co_instrumentation_version = interp->monitoring.version;
    return 0;
}

int
_Py_Instrument(PyCodeObject *co, PyInterpreterState *interp)
{
    if (co->_co_instrumentation_version == interp->monitoring.version) {
        return 0;
    }
    return force_instrument(co, interp);
}

/* Code running on any thread's stack will not pass a RESUME before it returns,
   so bring it up to date now. */
static int
instrument_executing_code(PyInterpreterState *interp)
{
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts != NULL;
         ts = PyThreadState_Next(ts))
    {
        _PyInterpreterFrame *frame = ts->cframe->current_frame;
        for (; frame != NULL; frame = frame->previous) {
            if (_Py_Instrument(frame->f_code, interp) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* A version number no interpreter has used yet (see "Versions" above). */
static uint32_t
new_version(void)
{
    /* Every interpreter of a 3.11 process runs under the one GIL. */
    static uint32_t last_version = 0;
    last_version++;
    if (last_version == ORPHANED_VERSION) {
        /* 2**32 changes later: 0 is the version of "no change yet", and
           ORPHANED_VERSION the stamp of orphans (see orphan_data()). */
        last_version = 1;
    }
    return last_version;
}

static int
tool_state_changed(PyInterpreterState *interp)
{
    _PyEval_EnableResumeChecks(_PyThreadState_GET());
    interp->monitoring.version = new_version();
    _PyLegacyTracing_UpdateBridges(interp);
    return instrument_executing_code(interp);
}


/* Firing events --------------------------------------------------------*/

/* The C API (the section at the end of this file), as the engine sees it. */
static PyTypeObject NativeCallback_Type;
typedef struct native_callback native_callback;
static int native_invoke(native_callback *self, const PyMonitoringEvent *ev);
static int capi_uses_table(PyObject *code);
static int capi_get_local_events(PyInterpreterState *interp, int tool_id, PyObject *code);
static int capi_set_local_events(PyInterpreterState *interp, int tool_id, PyObject *code,
                                 int event_set);
static int capi_note_local_events(PyInterpreterState *interp, int tool_id, int event_set);
static void capi_clear_tool(PyInterpreterState *interp, int tool_id);
static void capi_fini(PyInterpreterState *interp);

static inline int
is_local_event(int event)
{
    return (_PY_MONITORING_LOCAL_EVENT_SET >> event) & 1;
}

/* The tools that receive `event` fired at instruction `index` of `co`.  Not
   for C_RETURN and C_RAISE: see _Py_call_instrumentation_c_event(). */
static uint8_t
tools_for_event(PyInterpreterState *interp, PyCodeObject *co, int event, int index)
{
    assert(!((_PY_MONITORING_C_EVENT_SET >> event) & 1));
    _PyCoMonitoringData *data;
    uint8_t tools = interp->monitoring.events.tools[event];
    if (is_local_event(event)) {
        data = get_data(co, interp);
        if (data != NULL) {
            tools |= data->local.tools[event];
            if ((_PY_MONITORING_EXC_EVENT_SET >> event) & 1) {
                /* 3.15: DISABLEd for the whole code object */
                tools &= ~data->exc_disabled.tools[event];
            }
            else if (data->disabled != NULL) {
                tools &= ~data->disabled[index];
            }
        }
    }
    return tools;
}

static int
disable_location(PyInterpreterState *interp, PyCodeObject *co, int index, int tool)
{
    _PyCoMonitoringData *data = get_or_create_data(co, interp);
    if (data == NULL) {
        return -1;
    }
    if (data->disabled == NULL) {
        data->disabled = PyMem_Calloc(Py_SIZE(co), 1);
        if (data->disabled == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    data->disabled[index] |= (uint8_t)(1 << tool);
    /* De-instrument the location now if nobody wants it any more. */
    _Py_Monitors wanted;
    wanted_events(interp, data, &wanted);
    instrument_for(co, data, &wanted);
    return 0;
}

/* Call the callbacks of `tools` for `event`.  args[0] is scratch space for
   PY_VECTORCALL_ARGUMENTS_OFFSET; args[1] and args[2] are filled in here
   (code, offset); the event's own arguments follow.  nargs counts from
   args[1].  Returns `tools`, the tools the event was for (with a callback or
   not), or -1 with an exception set. */
static int
call_tools(PyThreadState *tstate, int event, _PyInterpreterFrame *frame,
           _Py_CODEUNIT *instr, uint8_t tools, Py_ssize_t nargs, PyObject **args)
{
    int result = tools;
    if (tools & _PY_MONITORING_LEGACY_TOOLS) {
        /* sys.settrace's tool, then sys.setprofile's (highest id first):
           C calls, no arguments to box (legacy_tracing.c). */
        if (_PyLegacyTracing_Event(tstate, tools, event, frame, args + 3, nargs - 2) < 0) {
            return -1;
        }
        tools &= (uint8_t)~_PY_MONITORING_LEGACY_TOOLS;
    }
    if (tools == 0) {
        return result;
    }
    PyInterpreterState *interp = tstate->interp;
    PyCodeObject *co = frame->f_code;
    int index = (int)(instr - _PyCode_CODE(co));
    /* Boxed for the first callback that is not a native one (native
       callbacks get the offset as a C int). */
    PyObject *offset = NULL;
    args[1] = (PyObject *)co;
    args[2] = NULL;
    int err = 0;
    /* Highest tool id first, as upstream calls them. */
    for (int tool = PY_MONITORING_TOOL_IDS - 1; tool >= 0; tool--) {
        if (!(tools & (1 << tool))) {
            continue;
        }
        PyObject *callback = interp->monitoring.callables[tool][event];
        if (callback == NULL) {
            continue;
        }
        Py_INCREF(callback);
        /* As for sys.settrace functions: no events for the
           code the callback runs.  tracing_what tells frame.f_lineno's setter
           which event this is (a stale PyTrace_LINE left by an enclosing
           sys.call_tracing() must not let a CALL callback jump). */
        int disable;
        if (Py_IS_TYPE(callback, &NativeCallback_Type)) {
            PyMonitoringEvent ev = {event, (PyObject *)co,
                                    index * (int32_t)sizeof(_Py_CODEUNIT), -1, -1,
                                    nargs > 2 ? args[3] : NULL,
                                    nargs > 3 ? args[4] : NULL};
            int what = tstate->tracing_what;
            tstate->tracing_what = _PY_MONITORING_TRACING_WHAT(event);
            PyThreadState_EnterTracing(tstate);
            disable = native_invoke((native_callback *)callback, &ev);
            PyThreadState_LeaveTracing(tstate);
            tstate->tracing_what = what;
        }
        else {
            if (offset == NULL) {
                offset = PyLong_FromLong(index * (long)sizeof(_Py_CODEUNIT));
                if (offset == NULL) {
                    Py_DECREF(callback);
                    err = -1;
                    break;
                }
                args[2] = offset;
            }
            int what = tstate->tracing_what;
            tstate->tracing_what = _PY_MONITORING_TRACING_WHAT(event);
            PyThreadState_EnterTracing(tstate);
            PyObject *res = _PyObject_VectorcallTstate(
                tstate, callback, args + 1, nargs | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
            PyThreadState_LeaveTracing(tstate);
            tstate->tracing_what = what;
            disable = res == NULL ? -1 : res == &_PyInstrumentation_DISABLE;
            Py_XDECREF(res);
        }
        Py_DECREF(callback);
        if (disable < 0) {
            err = -1;
            break;
        }
        if (disable) {
            int exc_event = (_PY_MONITORING_EXC_EVENT_SET >> event) & 1;
            _PyCoMonitoringData *data = get_data(co, interp);
            /* An exception event can be disabled where the tool set it
               locally (3.15); set only globally, it cannot. */
            if (!is_local_event(event) ||
                (exc_event && (data == NULL || !((data->local.tools[event] >> tool) & 1)))) {
                /* A tool that does this is broken: stop calling it. */
                Py_CLEAR(interp->monitoring.callables[tool][event]);
                PyErr_Format(PyExc_ValueError,
                             "cannot disable %s events (only local events can be "
                             "disabled); the callback has been unregistered",
                             event_names[event]);
                err = -1;
                break;
            }
            if (exc_event) {
                data->exc_disabled.tools[event] |= (uint8_t)(1 << tool);
            }
            else if (disable_location(interp, co, index, tool) < 0) {
                err = -1;
                break;
            }
        }
    }
    Py_XDECREF(offset);
    return err < 0 ? err : result;
}

/* The tools that receive `event` at `instr` of frame's code, as
   tools_for_event() says, without looking at the code object's data while
   only sys.setprofile's and sys.settrace's tools can want it (they never
   DISABLE, and set only LINE locally, which does not come here). */
static inline uint8_t
tools_at(PyInterpreterState *interp, _PyInterpreterFrame *frame,
         _Py_CODEUNIT *instr, int event)
{
    uint8_t global = interp->monitoring.events.tools[event];
    if (((global | interp->monitoring.local_any.tools[event]) &
         (uint8_t)~_PY_MONITORING_LEGACY_TOOLS) == 0) {
        return global;
    }
    PyCodeObject *co = frame->f_code;
    return tools_for_event(interp, co, event, (int)(instr - _PyCode_CODE(co)));
}

static int
call_instrumentation_vector(PyThreadState *tstate, int event,
                            _PyInterpreterFrame *frame, _Py_CODEUNIT *instr,
                            Py_ssize_t nargs, PyObject **args)
{
    if (tstate->tracing) {
        return 0;
    }
    uint8_t tools = tools_at(tstate->interp, frame, instr, event);
    if ((tools & (uint8_t)~_PY_MONITORING_LEGACY_TOOLS) == 0) {
        /* Only sys.settrace and sys.setprofile, or nobody */
        if (tools && _PyLegacyTracing_Event(tstate, tools, event, frame,
                                            args + 3, nargs - 2) < 0) {
            return -1;
        }
        return tools;
    }
    return call_tools(tstate, event, frame, instr, tools, nargs, args);
}

int
_Py_call_instrumentation(PyThreadState *tstate, int event,
                         _PyInterpreterFrame *frame, _Py_CODEUNIT *instr)
{
    PyObject *args[3] = {NULL, NULL, NULL};
    return call_instrumentation_vector(tstate, event, frame, instr, 2, args);
}

int
_Py_call_instrumentation_arg(PyThreadState *tstate, int event,
                             _PyInterpreterFrame *frame, _Py_CODEUNIT *instr,
                             PyObject *arg)
{
    PyObject *args[4] = {NULL, NULL, NULL, arg};
    return call_instrumentation_vector(tstate, event, frame, instr, 3, args);
}

/* sys.setprofile reports calls of builtin functions and method descriptors
   only ('c_call'): while it is the only tool listening, other calls need not
   go through the callbacks at all. */
static inline int
only_profile_ignores(uint8_t tools, PyObject *callable, PyObject *arg0)
{
    return tools == (1 << PY_MONITORING_SYS_PROFILE_ID) &&
           !_PyLegacyTracing_ReportsCall(callable, arg0);
}

int
_Py_call_instrumentation_2args(PyThreadState *tstate, int event,
                               _PyInterpreterFrame *frame, _Py_CODEUNIT *instr,
                               PyObject *arg0, PyObject *arg1)
{
    if (tstate->tracing) {
        return 0;
    }
    uint8_t tools = tools_at(tstate->interp, frame, instr, event);
    if (event == PY_MONITORING_EVENT_CALL && only_profile_ignores(tools, arg0, arg1)) {
        return tools;
    }
    PyObject *args[5] = {NULL, NULL, NULL, arg0, arg1};
    return call_tools(tstate, event, frame, instr, tools, 4, args);
}

/* Fire an event about the exception being raised or handled to `tools`.
   With `with_exc`, the exception is the event's argument; otherwise arg0 and
   arg1 are (C_RAISE).  The exception survives unless a callback raises. */
static int
call_instrumentation_exc(PyThreadState *tstate, int event,
                         _PyInterpreterFrame *frame, _Py_CODEUNIT *instr,
                         uint8_t tools, int with_exc, PyObject *arg0, PyObject *arg1)
{
    if (tools == 0) {
        return 0;
    }
    PyObject *type, *value, *tb;
    _PyErr_Fetch(tstate, &type, &value, &tb);
    _PyErr_NormalizeException(tstate, &type, &value, &tb);
    if (tb != NULL) {
        PyException_SetTraceback(value, tb);
    }
    int err;
    if (with_exc) {
        PyObject *args[4] = {NULL, NULL, NULL, value};
        err = call_tools(tstate, event, frame, instr, tools, 3, args);
    }
    else {
        PyObject *args[5] = {NULL, NULL, NULL, arg0, arg1};
        err = call_tools(tstate, event, frame, instr, tools, 4, args);
    }
    if (err >= 0) {
        _PyErr_Restore(tstate, type, value, tb);
    }
    else {
        /* The callback's exception replaces the one being reported. */
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    }
    return err;
}

int
_Py_call_instrumentation_exc0(PyThreadState *tstate, int event,
                              _PyInterpreterFrame *frame, _Py_CODEUNIT *instr)
{
    if (tstate->tracing) {
        return 0;
    }
    PyCodeObject *co = frame->f_code;
    int index = (int)(instr - _PyCode_CODE(co));
    uint8_t tools = tools_for_event(tstate->interp, co, event, index);
    return call_instrumentation_exc(tstate, event, frame, instr, tools, 1, NULL, NULL);
}

/* C_RETURN and C_RAISE are ancillary to CALL: they go to the tools that
   monitor CALL here when the call ends, except those that had DISABLEd CALL
   here before the call was made.  `called` is what firing the CALL event of
   the same call returned: a tool whose CALL callback returned DISABLE for
   this very call therefore still learns how it ended, as upstream has it,
   and a tool that switched CALL on while the call ran learns it too. */
int
_Py_call_instrumentation_c_event(PyThreadState *tstate, int event,
                                 _PyInterpreterFrame *frame, _Py_CODEUNIT *instr,
                                 PyObject *callable, PyObject *arg0, uint8_t called)
{
    assert((_PY_MONITORING_C_EVENT_SET >> event) & 1);
    if (tstate->tracing) {
        return 0;
    }
    PyInterpreterState *interp = tstate->interp;
    PyCodeObject *co = frame->f_code;
    uint8_t tools = interp->monitoring.events.tools[PY_MONITORING_EVENT_CALL];
    _PyCoMonitoringData *data = get_data(co, interp);
    if (data != NULL) {
        tools |= data->local.tools[PY_MONITORING_EVENT_CALL];
        if (data->disabled != NULL) {
            tools &= called | ~data->disabled[instr - _PyCode_CODE(co)];
        }
    }
    if (only_profile_ignores(tools, callable, arg0)) {
        return 0;
    }
    if (event == PY_MONITORING_EVENT_C_RAISE) {
        return call_instrumentation_exc(tstate, event, frame, instr, tools, 0,
                                        callable, arg0);
    }
    PyObject *args[5] = {NULL, NULL, NULL, callable, arg0};
    return call_tools(tstate, event, frame, instr, tools, 4, args);
}

/* gen.throw() ended the iterator that a suspended generator delegates to
   (yield from, await), with the StopIteration now set, and the generator
   continues after its delegation without passing a RESUME (3.11's
   _gen_throw() moves it there itself).  Bring its code up to date, and
   report the resumption as PY_THROW of that StopIteration at the suspension
   point, as upstream does. */
int
_Py_call_instrumentation_delegate_ended(PyThreadState *tstate,
                                        _PyInterpreterFrame *frame)
{
    if (_Py_Instrument(frame->f_code, tstate->interp) < 0) {
        return -1;
    }
    if (!_Py_MONITORING_WANTS(tstate->interp, PY_MONITORING_EVENT_PY_THROW)) {
        return 0;
    }
    /* The callbacks see the generator running, its frame on top of the
       thread's frames, as for any other PY_THROW. */
    PyGenObject *gen = _PyFrame_GetGenerator(frame);
    PyFrameState state = gen->gi_frame_state;
    _PyInterpreterFrame *top = tstate->cframe->current_frame;
    frame->previous = top;
    tstate->cframe->current_frame = frame;
    gen->gi_frame_state = FRAME_EXECUTING;
    int err = _Py_call_instrumentation_exc0(tstate, PY_MONITORING_EVENT_PY_THROW,
                                            frame, frame->prev_instr);
    gen->gi_frame_state = state;
    tstate->cframe->current_frame = top;
    frame->previous = NULL;
    return err;
}

int
_Py_call_instrumentation_stop_iteration(PyThreadState *tstate,
                                        _PyInterpreterFrame *frame,
                                        _Py_CODEUNIT *instr, PyObject *value)
{
    if (tstate->tracing) {
        return 0;
    }
    PyCodeObject *co = frame->f_code;
    int index = (int)(instr - _PyCode_CODE(co));
    if (tools_for_event(tstate->interp, co, PY_MONITORING_EVENT_STOP_ITERATION, index) == 0) {
        return 0;
    }
    /* The StopIteration the generator protocol would have raised. */
    PyObject *exc = Py_IsNone(value) ? PyObject_CallNoArgs(PyExc_StopIteration)
                                     : PyObject_CallOneArg(PyExc_StopIteration, value);
    if (exc == NULL) {
        return -1;
    }
    int err = _Py_call_instrumentation_arg(
        tstate, PY_MONITORING_EVENT_STOP_ITERATION, frame, instr, exc);
    Py_DECREF(exc);
    return err;
}


/* LINE and INSTRUCTION -----------------------------------------------------*/

/* interp's side table of co, to record a DISABLE of LINE, INSTRUCTION, JUMP
   or a branch event in.  The callback that returned DISABLE may have switched
   the event off in co first (set_events() or set_local_events() from inside
   the callback), and with the last layer instrument_code() freed the table:
   it is made again, because the DISABLE outlives the event set as every
   other one does, until restart_events() (instrument_code() keeps a table
   with a mask set).  Returns NULL with an exception set on failure. */
static _PyCoLineEntry *
table_for_disable(PyInterpreterState *interp, PyCodeObject *co, _PyCoMonitoringData **pdata)
{
    _PyCoMonitoringData *data = get_or_create_data(co, interp);
    if (data == NULL) {
        return NULL;
    }
    if (data->lines == NULL) {
        /* Made from the bytecode without another interpreter's layers, as
           in force_instrument(). */
        own_bytecode(co, data);
        data->lines = create_line_table(co);
        if (data->lines == NULL) {
            return NULL;
        }
    }
    *pdata = data;
    return data->lines;
}

/* A tool returned DISABLE for LINE or INSTRUCTION at index: LINE goes off for
   that tool on the whole line of the code object, INSTRUCTION at index. */
static int
disable_layer(PyInterpreterState *interp, PyCodeObject *co, int event, int index, int tool)
{
    _PyCoMonitoringData *data;
    _PyCoLineEntry *lines = table_for_disable(interp, co, &data);
    if (lines == NULL) {
        return -1;
    }
    uint8_t bit = (uint8_t)(1 << tool);
    if (event == PY_MONITORING_EVENT_LINE) {
        int line = lines[index].line;
        for (Py_ssize_t i = 0; i < Py_SIZE(co); i++) {
            if (lines[i].line == line) {
                lines[i].line_disabled |= bit;
            }
        }
    }
    else {
        lines[index].instr_disabled |= bit;
    }
    _Py_Monitors wanted;
    wanted_events(interp, data, &wanted);
    instrument_for(co, data, &wanted);
    return 0;
}

/* Call the tools' callbacks for LINE or INSTRUCTION: (code, arg). */
static int
call_layer_event(PyThreadState *tstate, PyCodeObject *co, int event, int index,
                 uint8_t tools, PyObject *arg)
{
    PyInterpreterState *interp = tstate->interp;
    PyObject *args[3] = {NULL, (PyObject *)co, arg};
    for (int tool = PY_MONITORING_TOOL_IDS - 1; tool >= 0; tool--) {
        if (!(tools & (1 << tool))) {
            continue;
        }
        PyObject *callback = interp->monitoring.callables[tool][event];
        if (callback == NULL) {
            continue;
        }
        Py_INCREF(callback);
        PyThreadState_EnterTracing(tstate);
        /* A LINE callback may jump by setting frame.f_lineno, as a
           sys.settrace function may on a 'line' event (frameobject.c). */
        int old_what = tstate->tracing_what;
        tstate->tracing_what = _PY_MONITORING_TRACING_WHAT(event);
        PyObject *res = _PyObject_VectorcallTstate(
            tstate, callback, args + 1, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        tstate->tracing_what = old_what;
        PyThreadState_LeaveTracing(tstate);
        Py_DECREF(callback);
        if (res == NULL) {
            return -1;
        }
        Py_DECREF(res);
        if (res == &_PyInstrumentation_DISABLE &&
            disable_layer(interp, co, event, index, tool) < 0) {
            return -1;
        }
    }
    return 0;
}

int
_Py_call_instrumentation_line(PyThreadState *tstate, _PyInterpreterFrame *frame,
                              _Py_CODEUNIT *instr, _Py_CODEUNIT *prev)
{
    PyCodeObject *co = frame->f_code;
    _Py_CODEUNIT *instrs = _PyCode_CODE(co);
    int i = (int)(instr - instrs);
    _PyCoMonitoringData *data = layer_data(co);
    assert(data != NULL && data->lines != NULL);
    if (!tstate->tracing) {
        _PyCoLineEntry *lines = data->lines;
        int line = lines[i].line;
        int first = co->_co_firsttraceable;
        /* The instruction executed before, if it is one of this code's
           (from the first RESUME on): one unsigned comparison, as prev may
           point anywhere (another code object's bytecode, or nowhere). */
        uintptr_t after_first = ((uintptr_t)prev - (uintptr_t)(instrs + first)) /
                                sizeof(_Py_CODEUNIT);
        int p = after_first < (uintptr_t)(Py_SIZE(co) - first)
                ? first + (int)after_first : -1;
        PyInterpreterState *interp = tstate->interp;
        uint8_t tools = (interp->monitoring.events.tools[PY_MONITORING_EVENT_LINE] |
                         data->local.tools[PY_MONITORING_EVENT_LINE]) &
                        ~lines[i].line_disabled;
        if (tools & (1 << PY_MONITORING_SYS_TRACE_ID)) {
            /* sys.settrace first (highest id), with 3.11's rule for when a
               'line' event is due: the line differs from the line of the
               instruction before (none at the frame's start), or a jump
               went backwards, but not to the SEND of a yield from/await
               loop (legacy_tracing.c). */
            int due = line >= 0 &&
                (p <= first || lines[p].line != line ||
                 (i < p && hidden_base(lines, instrs, i) != SEND));
            if (_PyLegacyTracing_Line(tstate, frame, instr, prev, line, due) < 0) {
                return -1;
            }
            /* If it jumped (frame.f_lineno), the other tools still see this
               line, as upstream has it; the eval loop goes on where the
               frame now is.  The side table may be gone. */
            tools &= (uint8_t)~_PY_MONITORING_LEGACY_TOOLS;
            lines = tools ? data->lines : NULL;
        }
        /* Same line as the instruction executed before: no event, unless
           that was RESUME (the frame just started or resumed). */
        if (tools && (p < 0 || lines[p].line != line ||
                      hidden_base(lines, instrs, p) == RESUME)) {
            PyObject *lineobj = PyLong_FromLong(line);
            if (lineobj == NULL) {
                return -1;
            }
            int err = call_layer_event(tstate, co, PY_MONITORING_EVENT_LINE, i, tools, lineobj);
            Py_DECREF(lineobj);
            if (err < 0) {
                return -1;
            }
        }
    }
    /* Run what INSTRUMENTED_LINE hides now: a callback may have
       re-instrumented this code (and freed the side table). */
    int op = _Py_OPCODE(instrs[i]);
    if (op == INSTRUMENTED_LINE) {
        op = data->lines[i].line_original;
    }
    return op;
}

int
_Py_call_instrumentation_instruction(PyThreadState *tstate, _PyInterpreterFrame *frame,
                                     _Py_CODEUNIT *instr)
{
    PyCodeObject *co = frame->f_code;
    _Py_CODEUNIT *instrs = _PyCode_CODE(co);
    int i = (int)(instr - instrs);
    _PyCoMonitoringData *data = layer_data(co);
    assert(data != NULL && data->lines != NULL);
    if (!tstate->tracing) {
        PyInterpreterState *interp = tstate->interp;
        uint8_t tools = (interp->monitoring.events.tools[PY_MONITORING_EVENT_INSTRUCTION] |
                         data->local.tools[PY_MONITORING_EVENT_INSTRUCTION]) &
                        ~data->lines[i].instr_disabled;
        if (tools & (1 << PY_MONITORING_SYS_TRACE_ID)) {
            /* sys.settrace's 'opcode' events (frame.f_trace_opcodes) */
            if (_PyLegacyTracing_Instruction(tstate, frame, instr,
                                             data->lines[i].after_extended_arg) < 0) {
                return -1;
            }
            tools &= (uint8_t)~_PY_MONITORING_LEGACY_TOOLS;
        }
        if (tools) {
            PyObject *offset = PyLong_FromLong(i * (long)sizeof(_Py_CODEUNIT));
            if (offset == NULL) {
                return -1;
            }
            int err = call_layer_event(tstate, co, PY_MONITORING_EVENT_INSTRUCTION,
                                       i, tools, offset);
            Py_DECREF(offset);
            if (err < 0) {
                return -1;
            }
        }
    }
    int op = _Py_OPCODE(instrs[i]);
    if (op == INSTRUMENTED_LINE || op == INSTRUMENTED_INSTRUCTION) {
        op = under_layers(data->lines, instrs, i);
    }
    return op;
}

int
_PyMonitoring_BaseOpcode(PyCodeObject *co, int index)
{
    int op = _Py_OPCODE(_PyCode_CODE(co)[index]);
    if (op == INSTRUMENTED_LINE || op == INSTRUMENTED_INSTRUCTION ||
        op == INSTRUMENTED_BRANCH) {
        return hidden_base(layer_data(co)->lines, _PyCode_CODE(co), index);
    }
    return _PyOpcode_Deopt[op];
}

/* JUMP and branches ---------------------------------------------------------

   JUMP_FORWARD and JUMP_BACKWARD report JUMP (JUMP_BACKWARD_NO_INTERRUPT, the
   loop of a "yield from" or "await", does not, as upstream); the
   conditional jumps (POP_JUMP_*, JUMP_IF_*_OR_POP) and FOR_ITER report
   BRANCH_LEFT when they go on to the next instruction (FOR_ITER: the loop
   goes on) and BRANCH_RIGHT when they jump (FOR_ITER: the iterator is
   exhausted), as CPython 3.14 does, and the deprecated BRANCH either way.
   The bottom test of a while loop is the exception (is_loop_test()): its
   jump goes on with the loop, so it is BRANCH_LEFT, and co_branches() lists
   its destinations the same way round.
   FOR_ITER is INSTRUMENTED_FOR_ITER, the other jumps INSTRUMENTED_BRANCH
   (ceval.c), which evaluates the condition itself.  Each direction has its
   own DISABLE mask. */

static int
call_jump_event(PyThreadState *tstate, PyCodeObject *co, int event, int index,
                uint8_t tools, PyObject *src, PyObject *dest)
{
    PyInterpreterState *interp = tstate->interp;
    PyObject *args[4] = {NULL, (PyObject *)co, src, dest};
    int disabled = 0;
    int err = 0;
    for (int tool = PY_MONITORING_TOOL_IDS - 1; tool >= 0; tool--) {
        if (!(tools & (1 << tool))) {
            continue;
        }
        PyObject *callback = interp->monitoring.callables[tool][event];
        if (callback == NULL) {
            continue;
        }
        Py_INCREF(callback);
        PyThreadState_EnterTracing(tstate);
        /* frame.f_lineno's setter refuses a jump with the right reason */
        int old_what = tstate->tracing_what;
        tstate->tracing_what = _PY_MONITORING_TRACING_WHAT(event);
        PyObject *res = _PyObject_VectorcallTstate(
            tstate, callback, args + 1, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        tstate->tracing_what = old_what;
        PyThreadState_LeaveTracing(tstate);
        Py_DECREF(callback);
        if (res == NULL) {
            err = -1;
            break;
        }
        Py_DECREF(res);
        if (res == &_PyInstrumentation_DISABLE) {
            _PyCoMonitoringData *data;
            _PyCoLineEntry *lines = table_for_disable(interp, co, &data);
            if (lines == NULL) {
                err = -1;
                break;
            }
            _PyCoLineEntry *entry = &lines[index];
            uint8_t bit = (uint8_t)(1 << tool);
            switch (event) {
                case PY_MONITORING_EVENT_BRANCH_RIGHT:
                    entry->right_disabled |= bit;
                    break;
                case PY_MONITORING_EVENT_BRANCH:
                    entry->branch_disabled |= bit;
                    break;
                default:
                    entry->left_disabled |= bit;
            }
            disabled = 1;
        }
    }
    if (disabled) {
        _PyCoMonitoringData *data = get_data(co, interp);
        _Py_Monitors wanted;
        wanted_events(interp, data, &wanted);
        instrument_for(co, data, &wanted);
    }
    return err;
}

int
_Py_call_instrumentation_jump(PyThreadState *tstate, _PyInterpreterFrame *frame,
                              _Py_CODEUNIT *src, _Py_CODEUNIT *dest, int taken)
{
    if (tstate->tracing) {
        return 0;
    }
    PyCodeObject *co = frame->f_code;
    _Py_CODEUNIT *instrs = _PyCode_CODE(co);
    int i = (int)(src - instrs);
    _PyCoMonitoringData *data = layer_data(co);
    if (data == NULL || data->lines == NULL) {
        return 0;
    }
    _PyCoLineEntry *entry = &data->lines[i];
    PyInterpreterState *interp = tstate->interp;
    if (taken >= 0 && entry->loop_test) {
        taken = !taken;
    }
    int event = taken < 0 ? PY_MONITORING_EVENT_JUMP
                          : taken ? PY_MONITORING_EVENT_BRANCH_RIGHT
                                  : PY_MONITORING_EVENT_BRANCH_LEFT;
    uint8_t mask = event == PY_MONITORING_EVENT_BRANCH_RIGHT ? entry->right_disabled
                                                             : entry->left_disabled;
    uint8_t tools = (interp->monitoring.events.tools[event] | data->local.tools[event]) & ~mask;
    uint8_t old_tools = 0;
    if (taken >= 0) {
        old_tools = (interp->monitoring.events.tools[PY_MONITORING_EVENT_BRANCH] |
                     data->local.tools[PY_MONITORING_EVENT_BRANCH]) & ~entry->branch_disabled;
    }
    if ((tools | old_tools) == 0) {
        return 0;
    }
    PyObject *srcobj = PyLong_FromLong(i * (long)sizeof(_Py_CODEUNIT));
    PyObject *destobj = PyLong_FromLong((long)(dest - instrs) * (long)sizeof(_Py_CODEUNIT));
    int err = -1;
    if (srcobj != NULL && destobj != NULL) {
        err = 0;
        if (tools) {
            err = call_jump_event(tstate, co, event, i, tools, srcobj, destobj);
        }
        if (err == 0 && old_tools) {
            err = call_jump_event(tstate, co, PY_MONITORING_EVENT_BRANCH, i, old_tools,
                                  srcobj, destobj);
        }
    }
    Py_XDECREF(srcobj);
    Py_XDECREF(destobj);
    return err;
}

PyObject *
_PyMonitoring_CodeBranches(PyCodeObject *co)
{
    PyObject *bytes = _PyCode_GetCode(co);
    if (bytes == NULL) {
        return NULL;
    }
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        Py_DECREF(bytes);
        return NULL;
    }
    const _Py_CODEUNIT *code = (const _Py_CODEUNIT *)PyBytes_AS_STRING(bytes);
    int n = (int)Py_SIZE(co);
    int oparg = 0;
    for (int i = 0; i < n; i++) {
        int op = _Py_OPCODE(code[i]);
        oparg = (oparg << 8) | _Py_OPARG(code[i]);
        if (op == EXTENDED_ARG) {
            continue;
        }
        if (jump_kind(op) == 2) {
            int left = i + 1 + _PyOpcode_Caches[op];
            int right = jump_target(op, i, oparg);
            if (is_loop_test(code, n, op, i, right)) {
                int jump = right;
                right = left;
                left = jump;
            }
            PyObject *branch = Py_BuildValue("(iii)", i * (int)sizeof(_Py_CODEUNIT),
                                             left * (int)sizeof(_Py_CODEUNIT),
                                             right * (int)sizeof(_Py_CODEUNIT));
            if (branch == NULL || PyList_Append(list, branch) < 0) {
                Py_XDECREF(branch);
                Py_DECREF(list);
                Py_DECREF(bytes);
                return NULL;
            }
            Py_DECREF(branch);
        }
        oparg = 0;
        i += _PyOpcode_Caches[op];
    }
    Py_DECREF(bytes);
    PyObject *iter = PyObject_GetIter(list);
    Py_DECREF(list);
    return iter;
}


/* Tool state -------------------------------------------------------------*/

static int
check_tool_id(int tool_id)
{
    if (tool_id < 0 || tool_id >= PY_MONITORING_TOOL_IDS) {
        PyErr_Format(PyExc_ValueError, "invalid tool %d (must be between 0 and %d)",
                     tool_id, PY_MONITORING_TOOL_IDS - 1);
        return -1;
    }
    return 0;
}

static int
check_tool_in_use(PyInterpreterState *interp, int tool_id)
{
    if (check_tool_id(tool_id) < 0) {
        return -1;
    }
    if (interp->monitoring.tool_names[tool_id] == NULL) {
        PyErr_Format(PyExc_ValueError, "tool %d is not in use", tool_id);
        return -1;
    }
    return 0;
}

static int
check_code(PyObject *code)
{
    if (!PyCode_Check(code)) {
        PyErr_Format(PyExc_TypeError, "code must be a code object, not %.200s",
                     Py_TYPE(code)->tp_name);
        return -1;
    }
    return 0;
}

/* Validate an event set and return it as stored: C_RETURN and C_RAISE are
   accepted only together with CALL, which then stands for all three. */
static int
check_event_set(int event_set, int allowed, const char *what)
{
    const int call_events = (1 << PY_MONITORING_EVENT_CALL) | _PY_MONITORING_C_EVENT_SET;
    if (event_set & ~(allowed | _PY_MONITORING_C_EVENT_SET)) {
        PyErr_Format(PyExc_ValueError, "invalid %sevent set 0x%x", what, event_set);
        return -1;
    }
    if ((event_set & _PY_MONITORING_C_EVENT_SET) && (event_set & call_events) != call_events) {
        PyErr_SetString(PyExc_ValueError,
                        "C_RETURN and C_RAISE can only be set together, with CALL");
        return -1;
    }
    event_set &= ~_PY_MONITORING_C_EVENT_SET;
    return event_set;
}

static int
get_tool_events(const _Py_Monitors *m, int tool_id)
{
    int events = 0;
    for (int e = 0; e < _PY_MONITORING_EVENTS; e++) {
        if ((m->tools[e] >> tool_id) & 1) {
            events |= 1 << e;
        }
    }
    return events;
}

static void
set_tool_events(_Py_Monitors *m, int tool_id, int events)
{
    for (int e = 0; e < _PY_MONITORING_EVENTS; e++) {
        if ((events >> e) & 1) {
            m->tools[e] |= (uint8_t)(1 << tool_id);
        }
        else {
            m->tools[e] &= (uint8_t)~(1 << tool_id);
        }
    }
}

/* Clear the DISABLE masks of the tools in `tools`, in every code object. */
static void
clear_disabled(PyInterpreterState *interp, uint8_t tools)
{
    for (_PyCoMonitoringData *data = interp->monitoring.instrumented_code;
         data != NULL; data = data->next)
    {
        Py_ssize_t n = Py_SIZE(data->code);
        for (int e = 0; e < _PY_MONITORING_EVENTS; e++) {
            data->exc_disabled.tools[e] &= (uint8_t)~tools;
        }
        if (data->lines != NULL) {
            for (Py_ssize_t i = 0; i < n; i++) {
                data->lines[i].line_disabled &= (uint8_t)~tools;
                data->lines[i].instr_disabled &= (uint8_t)~tools;
                data->lines[i].left_disabled &= (uint8_t)~tools;
                data->lines[i].right_disabled &= (uint8_t)~tools;
                data->lines[i].branch_disabled &= (uint8_t)~tools;
            }
        }
        if (data->disabled == NULL) {
            continue;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            data->disabled[i] &= (uint8_t)~tools;
        }
    }
}

/* Recompute interp->monitoring.local_exc, which the eval loop's error paths
   test (_Py_MONITORING_WANTS), after a change of local event sets. */
static void
update_local_exc(PyInterpreterState *interp)
{
    _Py_Monitors *u = &interp->monitoring.local_exc;
    _Py_Monitors *any = &interp->monitoring.local_any;
    memset(u, 0, sizeof(*u));
    memset(any, 0, sizeof(*any));
    for (_PyCoMonitoringData *data = interp->monitoring.instrumented_code;
         data != NULL; data = data->next)
    {
        for (int e = 0; e < _PY_MONITORING_EVENTS; e++) {
            any->tools[e] |= data->local.tools[e];
            if ((_PY_MONITORING_EXC_EVENT_SET >> e) & 1) {
                u->tools[e] |= data->local.tools[e];
            }
        }
    }
}

/* sys.settrace's tool takes 'line' events only in the code of frames that
   want them (legacy_tracing.c, "Lines"): its LINE is a local event, which
   this switches on in co (once: later frames of co find it on). */
static void
add_legacy_lines(PyInterpreterState *interp, _PyCoMonitoringData *data)
{
    const uint8_t bit = 1 << PY_MONITORING_SYS_TRACE_ID;
    data->local.tools[PY_MONITORING_EVENT_LINE] |= bit;
    /* LINE is no exception event: local_exc stays as it is (and
       update_local_exc() would cost a walk over all monitored code). */
    interp->monitoring.local_any.tools[PY_MONITORING_EVENT_LINE] |= bit;
}

int
_PyMonitoring_WantLegacyLines(PyInterpreterState *interp, PyCodeObject *co)
{
    const uint8_t bit = 1 << PY_MONITORING_SYS_TRACE_ID;
    _PyCoMonitoringData *data = get_data(co, interp);
    if (data != NULL && (data->local.tools[PY_MONITORING_EVENT_LINE] & bit)) {
        return 0;
    }
    data = get_or_create_data(co, interp);
    if (data == NULL) {
        return -1;
    }
    add_legacy_lines(interp, data);
    return force_instrument(co, interp);
}

/* The last trace function is gone: so are its 'line' events everywhere
   (the new version re-instruments the code lazily). */
static void
clear_legacy_lines(PyInterpreterState *interp)
{
    const uint8_t bit = 1 << PY_MONITORING_SYS_TRACE_ID;
    if (!(interp->monitoring.local_any.tools[PY_MONITORING_EVENT_LINE] & bit)) {
        return;
    }
    for (_PyCoMonitoringData *data = interp->monitoring.instrumented_code;
         data != NULL; data = data->next)
    {
        data->local.tools[PY_MONITORING_EVENT_LINE] &= (uint8_t)~bit;
    }
    update_local_exc(interp);
}

/* The global events of sys.setprofile's and sys.settrace's tools
   (legacy_tracing.c).  With `now`, code running on some thread's stack is
   brought up to date at once, as for any change; without, only lazily at its
   next RESUME (for PyThreadState_Clear(), which must not fail). */
int
_PyMonitoring_SetLegacyEvents(PyInterpreterState *interp, int profile_events,
                              int trace_events, int now)
{
    _Py_Monitors *m = &interp->monitoring.events;
    if (get_tool_events(m, PY_MONITORING_SYS_PROFILE_ID) == profile_events &&
        get_tool_events(m, PY_MONITORING_SYS_TRACE_ID) == trace_events) {
        return 0;
    }
    if (trace_events == 0 && get_tool_events(m, PY_MONITORING_SYS_TRACE_ID) != 0) {
        clear_legacy_lines(interp);
    }
    set_tool_events(m, PY_MONITORING_SYS_PROFILE_ID, profile_events);
    set_tool_events(m, PY_MONITORING_SYS_TRACE_ID, trace_events);
    if (now) {
        return tool_state_changed(interp);
    }
    PyThreadState *tstate = _PyThreadState_GET();
    if (tstate != NULL) {
        _PyEval_EnableResumeChecks(tstate);
    }
    interp->monitoring.version = new_version();
    _PyLegacyTracing_UpdateBridges(interp);
    return 0;
}

/* Unregister tool_id's events and callbacks; nothing to do if it is unused. */
static int
clear_tool(PyInterpreterState *interp, int tool_id)
{
    if (interp->monitoring.tool_names[tool_id] == NULL) {
        return 0;
    }
    set_tool_events(&interp->monitoring.events, tool_id, 0);
    for (_PyCoMonitoringData *data = interp->monitoring.instrumented_code;
         data != NULL; data = data->next)
    {
        set_tool_events(&data->local, tool_id, 0);
    }
    update_local_exc(interp);
    clear_disabled(interp, (uint8_t)(1 << tool_id));
    capi_clear_tool(interp, tool_id);
    for (int e = 0; e < _PY_MONITORING_EVENTS; e++) {
        Py_CLEAR(interp->monitoring.callables[tool_id][e]);
    }
    return tool_state_changed(interp);
}

/* Bytecode whose layers belong to an interpreter that is gone.  Finalizing
   an interpreter does not rewrite the code it leaves instrumented: that is
   most of the work of its shutdown when much code survives it, and such
   code rarely runs again.  The data stays on the code object as an orphan,
   in no interpreter's list, with the side table that says what its layers
   hide and no events of its own, and the code's stamp says so:
   ORPHANED_VERSION, which no interpreter ever has.  The orphan keeps the
   code consistent whoever looks at it (co_code, code comparison and the
   instrumented instructions use its side table as they would a live
   interpreter's), the first interpreter to run the code again removes the
   layers at its RESUME (drop_orphan()), and code dealloc frees it with the
   rest (_PyStaticCode_Dealloc() deoptimizes the static code objects first,
   through the table). */
static void
orphan_data(_PyCoMonitoringData *data)
{
    assert(_PyCode_GetMonitoringData(data->code) == data);
    unlink_data(data);
    data->interp = NULL;
    memset(&data->local, 0, sizeof(data->local));
    memset(&data->exc_disabled, 0, sizeof(data->exc_disabled));
    PyMem_Free(data->disabled);
    data->disabled = NULL;
    data->code->_co_instrumentation_version = ORPHANED_VERSION;
}

/* Interpreter shutdown, first step, before the modules and the last garbage
   collection go: tools' callbacks can reference anything, so they go now.
   The code stays as it is: the last collection frees most of what is still
   instrumented (coverage.py's tracer keeps every code object it saw alive
   until then), and de-instrumenting it first cost more than the whole
   shutdown otherwise did.  With no tool left, code that finalizers run in
   the meantime sheds its instrumentation at its RESUME, as after
   clear_tool_id(). */
void
_PyMonitoring_Clear(PyInterpreterState *interp)
{
    struct _Py_monitoring_state *m = &interp->monitoring;
    for (int tool = 0; tool < PY_MONITORING_TOOL_IDS; tool++) {
        for (int e = 0; e < _PY_MONITORING_EVENTS; e++) {
            Py_CLEAR(m->callables[tool][e]);
        }
        Py_CLEAR(m->tool_names[tool]);
    }
    memset(&m->events, 0, sizeof(m->events));
    capi_fini(interp);
    memset(&m->local_exc, 0, sizeof(m->local_exc));
    memset(&m->local_any, 0, sizeof(m->local_any));
    if (m->instrumented_code != NULL) {
        _PyEval_EnableResumeChecks(_PyThreadState_GET());
        m->version = new_version();
    }
}

/* Interpreter shutdown, last step, after the last collection (the code run
   since _PyMonitoring_Clear() may have used sys.monitoring again). */
void
_PyMonitoring_Fini(PyInterpreterState *interp)
{
    struct _Py_monitoring_state *m = &interp->monitoring;
    _PyMonitoring_Clear(interp);
    /* Code objects can outlive the interpreter: static code objects outlive
       every interpreter and are shared by all of them, and heap ones leak
       (coverage.py 6.5's C tracer takes a reference to the code of every
       event it sees, and drops none, on 3.11).  This interpreter's data
       goes, except the side table of the layers it left in bytecode, which
       becomes an orphan (see orphan_data()). */
    while (m->instrumented_code != NULL) {
        _PyCoMonitoringData *data = m->instrumented_code;
        PyCodeObject *co = data->code;
        if (_PyCode_GetMonitoringData(co) == data &&
            (data->instrumented || data->lines != NULL)) {
            orphan_data(data);
        }
        else {
            free_data(data);
        }
    }
    m->version = 0;
}


/* sys.monitoring ----------------------------------------------------------*/

/*[clinic input]
module monitoring
[clinic start generated code]*/
/*[clinic end generated code: output=da39a3ee5e6b4b0d input=37257f5987a360cf]*/

#include "clinic/instrumentation.c.h"

/*[clinic input]
monitoring.use_tool_id

    tool_id: int
    name: object
    /

Claim tool_id for the tool called name.

Raises ValueError if tool_id is out of range or already in use.
[clinic start generated code]*/

static PyObject *
monitoring_use_tool_id_impl(PyObject *module, int tool_id, PyObject *name)
/*[clinic end generated code: output=30d76dc92b7cd653 input=9bf65bd1288726a9]*/
{
    if (check_tool_id(tool_id) < 0) {
        return NULL;
    }
    if (!PyUnicode_Check(name)) {
        PyErr_SetString(PyExc_ValueError, "tool name must be a str");
        return NULL;
    }
    PyInterpreterState *interp = _PyInterpreterState_GET();
    if (interp->monitoring.tool_names[tool_id] != NULL) {
        PyErr_Format(PyExc_ValueError, "tool %d is already in use", tool_id);
        return NULL;
    }
    Py_INCREF(name);
    interp->monitoring.tool_names[tool_id] = name;
    Py_RETURN_NONE;
}

/*[clinic input]
monitoring.clear_tool_id

    tool_id: int
    /

Unregister all events and callbacks of tool_id; the id stays claimed.
[clinic start generated code]*/

static PyObject *
monitoring_clear_tool_id_impl(PyObject *module, int tool_id)
/*[clinic end generated code: output=04defc23470b1be7 input=818ded7afa2d16e1]*/
{
    if (check_tool_id(tool_id) < 0) {
        return NULL;
    }
    if (clear_tool(_PyInterpreterState_GET(), tool_id) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/*[clinic input]
monitoring.free_tool_id

    tool_id: int
    /

Clear tool_id (see clear_tool_id()), then release it for other tools.
[clinic start generated code]*/

static PyObject *
monitoring_free_tool_id_impl(PyObject *module, int tool_id)
/*[clinic end generated code: output=86c2d2a1219a8591 input=02a0b37387275596]*/
{
    if (check_tool_id(tool_id) < 0) {
        return NULL;
    }
    PyInterpreterState *interp = _PyInterpreterState_GET();
    /* The id is released even if re-instrumenting failed. */
    int err = clear_tool(interp, tool_id);
    Py_CLEAR(interp->monitoring.tool_names[tool_id]);
    if (err < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/*[clinic input]
monitoring.get_tool

    tool_id: int
    /

Return the name of the tool using tool_id, or None if it is free.
[clinic start generated code]*/

static PyObject *
monitoring_get_tool_impl(PyObject *module, int tool_id)
/*[clinic end generated code: output=1c05a98b404a9a16 input=831346b22d3611c2]*/
{
    if (check_tool_id(tool_id) < 0) {
        return NULL;
    }
    PyObject *name = _PyInterpreterState_GET()->monitoring.tool_names[tool_id];
    if (name == NULL) {
        Py_RETURN_NONE;
    }
    Py_INCREF(name);
    return name;
}

/*[clinic input]
monitoring.register_callback

    tool_id: int
    event: int
    func: object
    /

Register func (or None) as tool_id's callback for one event.

Returns the callback registered before, or None.
[clinic start generated code]*/

static PyObject *
monitoring_register_callback_impl(PyObject *module, int tool_id, int event,
                                  PyObject *func)
/*[clinic end generated code: output=e64daa363004030c input=46298a52342297ec]*/
{
    if (check_tool_id(tool_id) < 0) {
        return NULL;
    }
    if (event <= 0 || (event & (event - 1)) != 0) {
        PyErr_SetString(PyExc_ValueError,
                        "the callback can only be set for one event at a time");
        return NULL;
    }
    if (event & ~ALL_EVENTS) {
        PyErr_Format(PyExc_ValueError, "invalid event %d", event);
        return NULL;
    }
    if (func == Py_None) {
        func = NULL;
    }
    if (PySys_Audit("sys.monitoring.register_callback", "O",
                    func != NULL ? func : Py_None) < 0) {
        return NULL;
    }
    int event_id = 0;
    while ((1 << event_id) != event) {
        event_id++;
    }
    PyInterpreterState *interp = _PyInterpreterState_GET();
    PyObject **slot = &interp->monitoring.callables[tool_id][event_id];
    PyObject *previous = *slot;
    Py_XINCREF(func);
    *slot = func;
    /* Only events with a callback are instrumented (wanted_events()). */
    if ((previous == NULL) != (func == NULL) && tool_state_changed(interp) < 0) {
        Py_XDECREF(previous);
        return NULL;
    }
    if (previous == NULL) {
        Py_RETURN_NONE;
    }
    return previous;
}

/*[clinic input]
monitoring.get_events -> int

    tool_id: int
    /

Return the set of events tool_id has switched on globally.
[clinic start generated code]*/

static int
monitoring_get_events_impl(PyObject *module, int tool_id)
/*[clinic end generated code: output=4450cc13f826c8c0 input=e1c74643d2a47e6d]*/
{
    /* As upstream: a tool id not in use has no events (only setting them is
       an error). */
    if (check_tool_id(tool_id) < 0) {
        return -1;
    }
    PyInterpreterState *interp = _PyInterpreterState_GET();
    return get_tool_events(&interp->monitoring.events, tool_id);
}

/*[clinic input]
monitoring.set_events

    tool_id: int
    event_set: int
    /

Switch on exactly the events in event_set for tool_id, in all code.
[clinic start generated code]*/

static PyObject *
monitoring_set_events_impl(PyObject *module, int tool_id, int event_set)
/*[clinic end generated code: output=1916c1e49cfb5bdb input=265ddda06e33a40d]*/
{
    PyInterpreterState *interp = _PyInterpreterState_GET();
    if (check_tool_in_use(interp, tool_id) < 0) {
        return NULL;
    }
    event_set = check_event_set(event_set, ALL_EVENTS, "");
    if (event_set < 0) {
        return NULL;
    }
    if (get_tool_events(&interp->monitoring.events, tool_id) != event_set) {
        set_tool_events(&interp->monitoring.events, tool_id, event_set);
        if (tool_state_changed(interp) < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/*[clinic input]
monitoring.get_local_events -> int

    tool_id: int
    code: object
    /

Return the set of events tool_id has switched on for code alone.
[clinic start generated code]*/

static int
monitoring_get_local_events_impl(PyObject *module, int tool_id,
                                 PyObject *code)
/*[clinic end generated code: output=d3e92c1c9c1de8f9 input=430e4a065e4bfdcc]*/
{
    if (check_tool_id(tool_id) < 0) {
        return -1;
    }
    PyInterpreterState *interp = _PyInterpreterState_GET();
    if (capi_uses_table(code)) {
        return capi_get_local_events(interp, tool_id, code);
    }
    _PyCoMonitoringData *data = get_data((PyCodeObject *)code, interp);
    return data == NULL ? 0 : get_tool_events(&data->local, tool_id);
}

/*[clinic input]
monitoring.set_local_events

    tool_id: int
    code: object
    event_set: int
    /

Switch on exactly the local events in event_set for tool_id, in code alone.

These add to the events set globally with set_events().
[clinic start generated code]*/

static PyObject *
monitoring_set_local_events_impl(PyObject *module, int tool_id,
                                 PyObject *code, int event_set)
/*[clinic end generated code: output=68cc755a65dfea99 input=62dc2c1697c6d7fb]*/
{
    PyInterpreterState *interp = _PyInterpreterState_GET();
    if (check_tool_in_use(interp, tool_id) < 0) {
        return NULL;
    }
    if (capi_uses_table(code)) {
        /* Code-like objects and code without bytecode: only C code fires
           their events (the C API section). */
        if (capi_set_local_events(interp, tool_id, code, event_set) < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    event_set = check_event_set(event_set, _PY_MONITORING_LOCAL_EVENT_SET, "local ");
    if (event_set < 0) {
        return NULL;
    }
    if (capi_note_local_events(interp, tool_id, event_set) < 0) {
        return NULL;
    }
    PyCodeObject *co = (PyCodeObject *)code;
    _PyCoMonitoringData *data = get_data(co, interp);
    if (data == NULL && event_set == 0) {
        Py_RETURN_NONE;
    }
    data = get_or_create_data(co, interp);
    if (data == NULL) {
        return NULL;
    }
    if (get_tool_events(&data->local, tool_id) != event_set) {
        set_tool_events(&data->local, tool_id, event_set);
        update_local_exc(interp);
        /* Only this code object changed: no need to touch the others. */
        if (force_instrument(co, interp) < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/*[clinic input]
monitoring.restart_events

    tool_id: object = None
    /

Re-enable the events switched off by returning DISABLE from a callback.

With tool_id, only those that tool switched off (an extension of this build).
[clinic start generated code]*/

static PyObject *
monitoring_restart_events_impl(PyObject *module, PyObject *tool_id)
/*[clinic end generated code: output=9da9d48c6bbbb0eb input=a28c983f4c047bc3]*/
{
    PyInterpreterState *interp = _PyInterpreterState_GET();
    uint8_t tools = (uint8_t)((1 << PY_MONITORING_TOOL_IDS) - 1);
    if (tool_id != Py_None) {
        int id = _PyLong_AsInt(tool_id);
        if (id == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (check_tool_id(id) < 0) {
            return NULL;
        }
        tools = (uint8_t)(1 << id);
    }
    clear_disabled(interp, tools);
    if (tool_state_changed(interp) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef monitoring_methods[] = {
    MONITORING_USE_TOOL_ID_METHODDEF
    MONITORING_CLEAR_TOOL_ID_METHODDEF
    MONITORING_FREE_TOOL_ID_METHODDEF
    MONITORING_GET_TOOL_METHODDEF
    MONITORING_REGISTER_CALLBACK_METHODDEF
    MONITORING_GET_EVENTS_METHODDEF
    MONITORING_SET_EVENTS_METHODDEF
    MONITORING_GET_LOCAL_EVENTS_METHODDEF
    MONITORING_SET_LOCAL_EVENTS_METHODDEF
    MONITORING_RESTART_EVENTS_METHODDEF
    {NULL, NULL}
};

static struct PyModuleDef monitoring_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sys.monitoring",
    .m_doc = "Low-impact monitoring of execution events (PEP 669).",
    .m_size = -1,
    .m_methods = monitoring_methods,
};

static int
add_events_namespace(PyObject *mod)
{
    PyObject *dict = PyDict_New();
    if (dict == NULL) {
        return -1;
    }
    for (int e = 0; e < _PY_MONITORING_EVENTS; e++) {
        PyObject *value = PyLong_FromLong(1L << e);
        if (value == NULL || PyDict_SetItemString(dict, event_names[e], value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(dict);
            return -1;
        }
        Py_DECREF(value);
    }
    PyObject *zero = PyLong_FromLong(0);
    if (zero == NULL || PyDict_SetItemString(dict, "NO_EVENTS", zero) < 0) {
        Py_XDECREF(zero);
        Py_DECREF(dict);
        return -1;
    }
    Py_DECREF(zero);
    PyObject *events = _PyNamespace_New(dict);
    Py_DECREF(dict);
    if (events == NULL) {
        return -1;
    }
    int err = PyModule_AddObjectRef(mod, "events", events);
    Py_DECREF(events);
    return err;
}

PyObject *
_Py_CreateMonitoringObject(void)
{
    PyObject *mod = _PyModule_CreateInitialized(&monitoring_module, PYTHON_API_VERSION);
    if (mod == NULL) {
        return NULL;
    }
    if (add_events_namespace(mod) < 0 ||
        PyModule_AddObjectRef(mod, "DISABLE", &_PyInstrumentation_DISABLE) < 0 ||
        PyModule_AddObjectRef(mod, "MISSING", &_PyInstrumentation_MISSING) < 0 ||
        PyModule_AddIntConstant(mod, "DEBUGGER_ID", 0) < 0 ||
        PyModule_AddIntConstant(mod, "COVERAGE_ID", 1) < 0 ||
        PyModule_AddIntConstant(mod, "PROFILER_ID", 2) < 0 ||
        PyModule_AddIntConstant(mod, "OPTIMIZER_ID", 5) < 0)
    {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}


/* The C API: firing events from C, code-like objects, native callbacks ------

   Include/cpython/monitoring.h is the interface and documents the rules;
   Doc/c-api/monitoring.rst is the user's documentation.  This section lives
   in this file, after the engine, because it needs the engine's own view of
   tool state (event_names, is_local_event, check_event_set, the per-code
   data) and nothing else needs a wider internal interface for it.  It only
   reads the engine's structures; its own state is interp->monitoring.capi.

   Scopes and states.  A PyMonitoringState is what a location is for the eval
   loop: PyMonitoring_EnterScope() sets state->active to the tools that may
   want the event (global events, plus any tool that has this local event set
   on some code or code-like object), and a DISABLE clears the tool's bit in
   it.  The Fire functions deliver the event to state->active intersected with
   the tools that want it now for that code-like object (its own local events
   included), so a stale or over-approximated state costs a test, never a
   wrong event.  The scope version is (epoch << 32 | interp version), where
   the epoch is unique per interpreter and changes when the set of tools with
   local events grows (set_local_events does not bump the interpreter's
   version, which would re-instrument all code): a state cached by one
   interpreter is never taken as current by another, and restart_events(),
   which bumps the version, re-enables what callbacks disabled.  Version 0 is
   "never entered": an interpreter in which no tool ever did anything reports
   it, and a zero-initialized state is then right.

   Code-like objects (fork).  Events may be fired for any object the C code
   uses as its code.  Local events for objects that are not code objects, and
   for code objects with no meaningful bytecode (see capi_uses_table()), are
   kept here, in a table keyed by the
   object's identity that holds a strong reference while some tool has local
   events on it.  Code objects with bytecode keep theirs in the engine's
   per-code data, which both the eval loop and this section read.
   set_local_events() accepts a non-code object only if it looks like code
   (has co_filename and co_name), so that passing a function or a string by
   mistake still raises TypeError.

   Native callbacks (fork) are wrapped in a NativeCallback object stored as
   the tool's callback; call_instrumentation_vector() and capi_fire() call
   the C function directly when they see that type.

   Tools are called highest tool id first, as upstream does.  While a
   callback runs tstate->tracing is raised, and events fired from C are not
   delivered then, as for the eval loop's. */

#include "pycore_hashtable.h"     // _Py_hashtable_t
#include "structmember.h"         // PyMemberDef

static_assert(_PY_MONITORING_EVENTS == PY_MONITORING_EVENT_BRANCH + 1,
              "the public event numbers (cpython/monitoring.h) and the engine's disagree");
static_assert(PY_MONITORING_TOOL_IDS <= 8, "PyMonitoringState.active is a uint8_t");
#define _CAPI_LOCAL_MASK \
    ((PY_MONITORING_IS_INSTRUMENTED_EVENT(0) << 0) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(1) << 1) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(2) << 2) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(3) << 3) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(4) << 4) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(5) << 5) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(6) << 6) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(7) << 7) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(8) << 8) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(9) << 9) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(10) << 10) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(11) << 11) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(12) << 12) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(13) << 13) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(14) << 14) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(15) << 15) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(16) << 16) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(17) << 17) | \
     (PY_MONITORING_IS_INSTRUMENTED_EVENT(18) << 18))
static_assert(_CAPI_LOCAL_MASK ==
              (_PY_MONITORING_LOCAL_EVENT_SET & ~_PY_MONITORING_EXC_EVENT_SET),
              "PY_MONITORING_IS_INSTRUMENTED_EVENT() disagrees with the engine's local events");
#undef _CAPI_LOCAL_MASK

typedef struct {
    PyObject *obj;                      /* strong reference */
    _Py_Monitors local;
} capi_codelike;

struct _PyMonitoringCapiState {
    _Py_hashtable_t *codelikes;         /* object -> capi_codelike *, or NULL */
    /* The last lookup (events come in runs for one code object); reset
       whenever the table changes. */
    PyObject *last_key;
    capi_codelike *last_entry;
    /* Tools that set each local event on some code or code-like object since
       they were last cleared: an over-approximation, see above. */
    uint8_t local_any[_PY_MONITORING_EVENTS];
    uint32_t epoch;
};

/* Epochs are unique across interpreters; 3.11 has one GIL for all of them. */
static uint32_t capi_last_epoch;

static struct _PyMonitoringCapiState *
capi_state(PyInterpreterState *interp)
{
    struct _PyMonitoringCapiState *capi = interp->monitoring.capi;
    if (capi == NULL) {
        capi = PyMem_Calloc(1, sizeof(*capi));
        if (capi == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        capi->epoch = ++capi_last_epoch;
        interp->monitoring.capi = capi;
    }
    return capi;
}

static void
capi_codelike_free(void *value)
{
    capi_codelike *entry = (capi_codelike *)value;
    Py_DECREF(entry->obj);
    PyMem_Free(entry);
}

/* Does `code` keep its local events in the C API's table?  Yes for objects
   that are not code objects, and for code objects with no meaningful
   bytecode: none at all, or only PyCode_NewEmpty()'s placeholder (RESUME,
   LOAD_ASSERTION_ERROR, RAISE_VARARGS), which compiled code such as Cython's
   uses for its functions and which never runs anything. */
static int
capi_uses_table(PyObject *code)
{
    if (!PyCode_Check(code)) {
        return 1;
    }
    PyCodeObject *co = (PyCodeObject *)code;
    if (co->_co_firsttraceable >= Py_SIZE(co)) {
        return 1;
    }
    _Py_CODEUNIT *instrs = _PyCode_CODE(co);
    return Py_SIZE(co) == 3 &&
           _PyOpcode_Deopt[_Py_OPCODE(instrs[0])] == RESUME &&
           _PyOpcode_Deopt[_Py_OPCODE(instrs[1])] == LOAD_ASSERTION_ERROR &&
           _PyOpcode_Deopt[_Py_OPCODE(instrs[2])] == RAISE_VARARGS;
}

static capi_codelike *
capi_lookup(PyInterpreterState *interp, PyObject *code)
{
    struct _PyMonitoringCapiState *capi = interp->monitoring.capi;
    if (capi == NULL || capi->codelikes == NULL) {
        return NULL;
    }
    if (capi->last_key != code) {
        capi->last_entry = (capi_codelike *)_Py_hashtable_get(capi->codelikes, code);
        capi->last_key = code;
    }
    return capi->last_entry;
}

static void
capi_table_changed(struct _PyMonitoringCapiState *capi)
{
    capi->last_key = NULL;
    capi->last_entry = NULL;
}

/* Local tool sets apply to the event itself; C_RETURN and C_RAISE follow CALL. */
static inline int
capi_event_key(int event)
{
    return ((_PY_MONITORING_C_EVENT_SET >> event) & 1) ? PY_MONITORING_EVENT_CALL : event;
}

/* Tools that want `event` for `code` locally. */
static uint8_t
capi_local_tools(PyInterpreterState *interp, PyObject *code, int key)
{
    uint8_t tools = 0;
    /* Only objects capi_uses_table() accepts have entries, and those have no
       local events in the engine's per-code data. */
    capi_codelike *entry = capi_lookup(interp, code);
    if (entry != NULL) {
        tools |= entry->local.tools[key];
    }
    else if (PyCode_Check(code)) {
        _PyCoMonitoringData *data = get_data((PyCodeObject *)code, interp);
        if (data != NULL) {
            tools |= data->local.tools[key];
        }
    }
    return tools;
}

/* Tools that want `event` now for `code`, from the global and local sets. */
static uint8_t
capi_tools_for(PyInterpreterState *interp, PyObject *code, int event)
{
    int key = capi_event_key(event);
    uint8_t tools = interp->monitoring.events.tools[key];
    if (is_local_event(key)) {
        tools |= capi_local_tools(interp, code, key);
    }
    return tools;
}

/* Called by set_local_events() for every code object: a tool that sets a local
   event somewhere must be in the scopes' active sets from now on. */
static int
capi_note_local_events(PyInterpreterState *interp, int tool_id, int event_set)
{
    uint8_t bit = (uint8_t)(1 << tool_id);
    int grew = 0;
    for (int e = 0; e < _PY_MONITORING_EVENTS; e++) {
        if (((event_set >> e) & 1) == 0) {
            continue;
        }
        struct _PyMonitoringCapiState *capi = capi_state(interp);
        if (capi == NULL) {
            return -1;
        }
        if (!(capi->local_any[e] & bit)) {
            capi->local_any[e] |= bit;
            grew = 1;
        }
    }
    if (grew) {
        interp->monitoring.capi->epoch = ++capi_last_epoch;
    }
    return 0;
}

static int
capi_check_codelike(PyObject *obj)
{
    if (PyCode_Check(obj)) {
        return 0;
    }
    static const char *const attrs[] = {"co_filename", "co_name"};
    for (size_t i = 0; i < Py_ARRAY_LENGTH(attrs); i++) {
        PyObject *value;
        PyObject *name = PyUnicode_InternFromString(attrs[i]);
        if (name == NULL) {
            return -1;
        }
        int r = _PyObject_LookupAttr(obj, name, &value);
        Py_DECREF(name);
        if (r < 0) {
            return -1;
        }
        Py_XDECREF(value);
        if (r == 0) {
            return check_code(obj);     /* the engine's TypeError */
        }
    }
    return 0;
}

/* sys.monitoring.get_local_events() for what the table holds. */
static int
capi_get_local_events(PyInterpreterState *interp, int tool_id, PyObject *code)
{
    if (capi_check_codelike(code) < 0) {
        return -1;
    }
    capi_codelike *entry = capi_lookup(interp, code);
    return entry == NULL ? 0 : get_tool_events(&entry->local, tool_id);
}

static int
capi_entry_empty(const capi_codelike *entry)
{
    for (int e = 0; e < _PY_MONITORING_EVENTS; e++) {
        if (entry->local.tools[e]) {
            return 0;
        }
    }
    return 1;
}

/* sys.monitoring.set_local_events() for what the table holds.  Events only C
   code fires for these objects need no bytecode instrumentation, so the
   events the eval loop cannot deliver yet are accepted here. */
static int
capi_set_local_events(PyInterpreterState *interp, int tool_id, PyObject *code,
                      int event_set)
{
    if (capi_check_codelike(code) < 0) {
        return -1;
    }
    event_set = check_event_set(event_set, _PY_MONITORING_LOCAL_EVENT_SET, "local ");
    if (event_set < 0) {
        return -1;
    }
    capi_codelike *entry = capi_lookup(interp, code);
    if (entry == NULL) {
        if (event_set == 0) {
            return 0;
        }
        struct _PyMonitoringCapiState *capi = capi_state(interp);
        if (capi == NULL) {
            return -1;
        }
        if (capi->codelikes == NULL) {
            capi->codelikes = _Py_hashtable_new_full(
                _Py_hashtable_hash_ptr, _Py_hashtable_compare_direct,
                NULL, capi_codelike_free, NULL);
            if (capi->codelikes == NULL) {
                PyErr_NoMemory();
                return -1;
            }
        }
        entry = PyMem_Calloc(1, sizeof(*entry));
        if (entry == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        Py_INCREF(code);
        entry->obj = code;
        capi_table_changed(capi);
        if (_Py_hashtable_set(capi->codelikes, code, entry) < 0) {
            capi_codelike_free(entry);
            PyErr_NoMemory();
            return -1;
        }
    }
    set_tool_events(&entry->local, tool_id, event_set);
    if (capi_entry_empty(entry)) {
        capi_table_changed(interp->monitoring.capi);
        entry = _Py_hashtable_steal(interp->monitoring.capi->codelikes, code);
        capi_codelike_free(entry);
    }
    return capi_note_local_events(interp, tool_id, event_set);
}

typedef struct {
    uint8_t bit;
    Py_ssize_t n_empty;
    PyObject **empty;
} capi_clear_args;

static int
capi_clear_entry(_Py_hashtable_t *ht, const void *key, const void *value, void *arg)
{
    capi_clear_args *args = (capi_clear_args *)arg;
    capi_codelike *entry = (capi_codelike *)value;
    for (int e = 0; e < _PY_MONITORING_EVENTS; e++) {
        entry->local.tools[e] &= (uint8_t)~args->bit;
    }
    if (args->empty != NULL && capi_entry_empty(entry)) {
        args->empty[args->n_empty++] = entry->obj;
    }
    return 0;
}

/* clear_tool(): drop the tool's local events on code-like objects. */
static void
capi_clear_tool(PyInterpreterState *interp, int tool_id)
{
    struct _PyMonitoringCapiState *capi = interp->monitoring.capi;
    if (capi == NULL) {
        return;
    }
    uint8_t bit = (uint8_t)(1 << tool_id);
    for (int e = 0; e < _PY_MONITORING_EVENTS; e++) {
        capi->local_any[e] &= (uint8_t)~bit;
    }
    if (capi->codelikes == NULL) {
        return;
    }
    /* Entries left empty are removed after the walk; if there is no memory
       to list them they stay, which costs a lookup, never a wrong event. */
    size_t n = capi->codelikes->nentries;
    capi_clear_args args = {bit, 0, PyMem_Malloc(n * sizeof(PyObject *) + 1)};
    (void)_Py_hashtable_foreach(capi->codelikes, capi_clear_entry, &args);
    if (args.empty == NULL) {
        return;
    }
    capi_table_changed(capi);
    for (Py_ssize_t i = 0; i < args.n_empty; i++) {
        capi_codelike_free(_Py_hashtable_steal(capi->codelikes, args.empty[i]));
    }
    PyMem_Free(args.empty);
}

/* _PyMonitoring_Fini(): the interpreter goes away. */
static void
capi_fini(PyInterpreterState *interp)
{
    struct _PyMonitoringCapiState *capi = interp->monitoring.capi;
    if (capi == NULL) {
        return;
    }
    interp->monitoring.capi = NULL;
    if (capi->codelikes != NULL) {
        _Py_hashtable_destroy(capi->codelikes);
    }
    PyMem_Free(capi);
}

static uint64_t
capi_scope_version(PyInterpreterState *interp)
{
    struct _PyMonitoringCapiState *capi = interp->monitoring.capi;
    uint32_t version = interp->monitoring.version;
    if (capi == NULL) {
        if (version == 0) {
            return 0;
        }
        capi = capi_state(interp);
        if (capi == NULL) {
            return UINT64_MAX;
        }
    }
    return ((uint64_t)capi->epoch << 32) | version;
}

int
PyMonitoring_EnterScope(PyMonitoringState *state_array, uint64_t *version,
                        const uint8_t *event_types, Py_ssize_t length)
{
    PyInterpreterState *interp = _PyInterpreterState_GET();
    uint64_t current = capi_scope_version(interp);
    if (current == *version) {
        return 0;
    }
    if (current == UINT64_MAX) {
        return -1;
    }
    struct _PyMonitoringCapiState *capi = interp->monitoring.capi;
    for (Py_ssize_t i = 0; i < length; i++) {
        int event = event_types[i];
        if (event >= _PY_MONITORING_EVENTS) {
            PyErr_Format(PyExc_ValueError, "invalid event id %d", event);
            return -1;
        }
        int key = capi_event_key(event);
        uint8_t tools = interp->monitoring.events.tools[key];
        if (capi != NULL && is_local_event(key)) {
            tools |= capi->local_any[key];
        }
        state_array[i].active = tools;
    }
    *version = current;
    return 0;
}

int
PyMonitoring_ExitScope(void)
{
    return 0;
}


/* Native callbacks */

struct native_callback {
    PyObject_HEAD
    PyMonitoring_NativeCallback func;
    void *data;
    void (*free_data)(void *);
    int tool;
    int event;
    vectorcallfunc vectorcall;
};

static PyTypeObject NativeCallback_Type;

static int
native_int_arg(PyObject *obj, int32_t *out, const char *what)
{
    long v = PyLong_AsLong(obj);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (v < INT32_MIN || v > INT32_MAX) {
        PyErr_Format(PyExc_OverflowError, "%s out of range", what);
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

/* Call the C function; r is its result. */
static int
native_invoke(native_callback *self, const PyMonitoringEvent *ev)
{
    int r = self->func(ev, self->data);
    if (r < 0) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_SystemError,
                         "native monitoring callback for %s returned an error "
                         "without setting an exception", event_names[ev->event]);
        }
        return -1;
    }
    return r == PY_MONITORING_DISABLE;
}

/* The arguments a Python callback receives for `event` -> a PyMonitoringEvent. */
static int
native_event_from_args(int event, PyObject *const *args, Py_ssize_t nargs,
                       PyMonitoringEvent *ev)
{
    Py_ssize_t expected;
    switch (event) {
        case PY_MONITORING_EVENT_PY_START:
        case PY_MONITORING_EVENT_PY_RESUME:
        case PY_MONITORING_EVENT_INSTRUCTION:
        case PY_MONITORING_EVENT_LINE:
            expected = 2;
            break;
        case PY_MONITORING_EVENT_CALL:
            expected = 4;
            break;
        case PY_MONITORING_EVENT_C_RETURN:
        case PY_MONITORING_EVENT_C_RAISE:
            /* 4 from the eval loop, 3 from C code (the value or exception) */
            expected = nargs == 3 ? 3 : 4;
            break;
        default:
            expected = 3;
    }
    if (nargs != expected) {
        PyErr_Format(PyExc_TypeError,
                     "native monitoring callback for %s takes %zd arguments (%zd given)",
                     event_names[event], expected, nargs);
        return -1;
    }
    *ev = (PyMonitoringEvent){event, args[0], -1, -1, -1, NULL, NULL};
    if (event == PY_MONITORING_EVENT_LINE) {
        int32_t lineno;
        if (native_int_arg(args[1], &lineno, "line number") < 0) {
            return -1;
        }
        ev->lineno = lineno;
        return 0;
    }
    if (native_int_arg(args[1], &ev->offset, "offset") < 0) {
        return -1;
    }
    switch (event) {
        case PY_MONITORING_EVENT_JUMP:
        case PY_MONITORING_EVENT_BRANCH_LEFT:
        case PY_MONITORING_EVENT_BRANCH_RIGHT:
        case PY_MONITORING_EVENT_BRANCH:
            return native_int_arg(args[2], &ev->target_offset, "destination offset");
        default:
            if (nargs > 2) {
                ev->arg = args[2];
            }
            if (nargs > 3) {
                ev->arg0 = args[3];
            }
    }
    return 0;
}

/* Convert Python-style arguments of `event` and call; the result is what a
   Python callback would have returned (DISABLE, None, or NULL). */
static PyObject *
native_call_vector(native_callback *self, int event, PyObject *const *args,
                   Py_ssize_t nargs)
{
    PyMonitoringEvent ev;
    if (native_event_from_args(event, args, nargs, &ev) < 0) {
        return NULL;
    }
    int r = native_invoke(self, &ev);
    if (r < 0) {
        return NULL;
    }
    if (r) {
        Py_INCREF(&_PyInstrumentation_DISABLE);
        return &_PyInstrumentation_DISABLE;
    }
    Py_RETURN_NONE;
}

/* The hook of call_instrumentation_vector(). */

/* Called from Python (a tool chaining to the callback it replaced): the
   event is the one the callback was registered for. */
static PyObject *
native_callback_vectorcall(PyObject *callable, PyObject *const *args,
                           size_t nargsf, PyObject *kwnames)
{
    native_callback *self = (native_callback *)callable;
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0) {
        PyErr_SetString(PyExc_TypeError,
                        "native monitoring callbacks take no keyword arguments");
        return NULL;
    }
    return native_call_vector(self, self->event, args, PyVectorcall_NARGS(nargsf));
}

static void
native_callback_dealloc(native_callback *self)
{
    if (self->free_data != NULL) {
        self->free_data(self->data);
    }
    PyObject_Free(self);
}

static PyObject *
native_callback_repr(native_callback *self)
{
    return PyUnicode_FromFormat("<sys.monitoring.NativeCallback %p (data %p) "
                                "registered by tool %d for %s>",
                                (void *)self->func, self->data, self->tool,
                                event_names[self->event]);
}

static PyMemberDef native_callback_members[] = {
    {"tool", T_INT, offsetof(native_callback, tool), READONLY,
     "the tool id the callback was registered for"},
    {"event", T_INT, offsetof(native_callback, event), READONLY,
     "the event id (PY_MONITORING_EVENT_*) it was registered for"},
    {NULL}
};

static PyTypeObject NativeCallback_Type = {
    PyVarObject_HEAD_INIT(&PyType_Type, 0)
    .tp_name = "sys.monitoring.NativeCallback",
    .tp_basicsize = sizeof(native_callback),
    .tp_dealloc = (destructor)native_callback_dealloc,
    .tp_vectorcall_offset = offsetof(native_callback, vectorcall),
    .tp_repr = (reprfunc)native_callback_repr,
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL |
                Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .tp_doc = "A monitoring callback written in C "
              "(PyMonitoring_RegisterNativeCallback()).",
    .tp_members = native_callback_members,
};

int
PyMonitoring_RegisterNativeCallback(int tool_id, int event_id,
                                    PyMonitoring_NativeCallback func, void *data,
                                    void (*free_data)(void *))
{
    if (check_tool_id(tool_id) < 0) {
        return -1;
    }
    if (event_id < 0 || event_id >= _PY_MONITORING_EVENTS) {
        PyErr_Format(PyExc_ValueError, "invalid event id %d", event_id);
        return -1;
    }
    if (func == NULL && (data != NULL || free_data != NULL)) {
        PyErr_SetString(PyExc_ValueError,
                        "data and free_data must be NULL when unregistering");
        return -1;
    }
    native_callback *cb = NULL;
    if (func != NULL) {
        if (PyType_Ready(&NativeCallback_Type) < 0) {
            return -1;
        }
        cb = PyObject_New(native_callback, &NativeCallback_Type);
        if (cb == NULL) {
            return -1;
        }
        cb->func = func;
        cb->data = data;
        cb->free_data = NULL;       /* ours only once registered */
        cb->tool = tool_id;
        cb->event = event_id;
        cb->vectorcall = native_callback_vectorcall;
    }
    if (PySys_Audit("sys.monitoring.register_callback", "O",
                    cb != NULL ? (PyObject *)cb : Py_None) < 0) {
        Py_XDECREF(cb);
        return -1;
    }
    if (cb != NULL) {
        cb->free_data = free_data;
    }
    PyInterpreterState *interp = _PyInterpreterState_GET();
    PyObject **slot = &interp->monitoring.callables[tool_id][event_id];
    PyObject *previous = *slot;
    *slot = (PyObject *)cb;
    /* Only events with a callback are instrumented, as for
       sys.monitoring.register_callback(). */
    int err = 0;
    if ((previous == NULL) != (cb == NULL)) {
        err = tool_state_changed(interp);
    }
    Py_XDECREF(previous);
    return err;
}


/* Firing */

/* Deliver `event` to the tools of state->active that want it for `codelike`.
   ev holds the C values (for native callbacks); args[3...] the event's own
   arguments as objects, args[0..2] are scratch (args[2], the offset or line
   number object, is made only if some callback is a Python one). */
static int
capi_fire(PyMonitoringState *state, PyObject *codelike, int32_t offset,
          PyMonitoringEvent *ev, PyObject **args, Py_ssize_t nargs)
{
    PyThreadState *tstate = _PyThreadState_GET();
    int event = ev->event;
    if (tstate->tracing) {
        return 0;
    }
    if (offset < 0) {
        PyErr_SetString(PyExc_ValueError, "offset must be non-negative");
        return -1;
    }
    PyInterpreterState *interp = tstate->interp;
    uint8_t tools = state->active & capi_tools_for(interp, codelike, event);
    if (tools == 0) {
        return 0;
    }
    ev->code = codelike;
    ev->offset = offset;
    args[1] = codelike;
    args[2] = NULL;
    int err = 0;
    for (int tool = PY_MONITORING_TOOL_IDS - 1; tool >= 0; tool--) {
        if (!((tools >> tool) & 1)) {
            continue;
        }
        PyObject *callback = interp->monitoring.callables[tool][event];
        if (callback == NULL) {
            continue;
        }
        int disable;
        Py_INCREF(callback);
        PyThreadState_EnterTracing(tstate);
        if (Py_IS_TYPE(callback, &NativeCallback_Type)) {
            disable = native_invoke((native_callback *)callback, ev);
        }
        else {
            PyObject *res = NULL;
            if (args[2] == NULL) {
                args[2] = PyLong_FromLong(event == PY_MONITORING_EVENT_LINE
                                          ? (long)ev->lineno : (long)offset);
            }
            if (args[2] != NULL) {
                res = _PyObject_VectorcallTstate(
                    tstate, callback, args + 1,
                    (size_t)nargs | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
            }
            disable = res == NULL ? -1 : res == &_PyInstrumentation_DISABLE;
            Py_XDECREF(res);
        }
        PyThreadState_LeaveTracing(tstate);
        Py_DECREF(callback);
        if (disable < 0) {
            err = -1;
            break;
        }
        if (disable) {
            /* As in the eval loop: an exception event can be disabled only
               where the tool set it locally. */
            int exc_event = (_PY_MONITORING_EXC_EVENT_SET >> event) & 1;
            if (!is_local_event(event) ||
                (exc_event && !((capi_local_tools(interp, codelike, event) >> tool) & 1))) {
                Py_CLEAR(interp->monitoring.callables[tool][event]);
                PyErr_Format(PyExc_ValueError,
                             "cannot disable %s events (only local events can be "
                             "disabled); the callback has been unregistered",
                             event_names[event]);
                err = -1;
                break;
            }
            state->active &= (uint8_t)~(1 << tool);
        }
    }
    Py_XDECREF(args[2]);
    return err;
}

/* An event with zero, one or two object arguments. */
static int
capi_fire_args(PyMonitoringState *state, PyObject *codelike, int32_t offset,
               int event, PyObject *arg, PyObject *arg0)
{
    assert(!PyErr_Occurred());
    PyMonitoringEvent ev = {event, NULL, -1, -1, -1, arg, arg0};
    PyObject *args[5] = {NULL, NULL, NULL, arg, arg0};
    Py_ssize_t nargs = arg == NULL ? 2 : arg0 == NULL ? 3 : 4;
    return capi_fire(state, codelike, offset, &ev, args, nargs);
}

/* legacy_tracing.c's bridge: an event compiled code sent the 3.11 way, for
   the user's tools, fired at offset 0 of `code` as this C API fires events
   for code-like objects.  With no PyMonitoringState kept between events, a
   DISABLE lasts for that event only. */
int
_PyMonitoring_FireOldStyleEvent(PyObject *code, int event, int lineno, PyObject *arg)
{
    PyMonitoringState state = {(uint8_t)((1 << PY_MONITORING_TOOL_IDS) - 1), 0};
    PyMonitoringEvent ev = {event, NULL, -1, lineno, -1, arg, NULL};
    PyObject *args[4] = {NULL, NULL, NULL, arg};
    return capi_fire(&state, code, 0, &ev, args, arg == NULL ? 2 : 3);
}

/* JUMP and the BRANCH events: the destination is an int object. */
static int
capi_fire_target(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                 int event, PyObject *target_offset)
{
    assert(!PyErr_Occurred());
    PyMonitoringEvent ev = {event, NULL, -1, -1, -1, NULL, NULL};
    if (native_int_arg(target_offset, &ev.target_offset, "destination offset") < 0) {
        return -1;
    }
    PyObject *args[4] = {NULL, NULL, NULL, target_offset};
    return capi_fire(state, codelike, offset, &ev, args, 3);
}

/* The exception events: report the current exception, which stays set
   unless a callback raises (then the callback's exception replaces it). */
static int
capi_fire_exc(PyMonitoringState *state, PyObject *codelike, int32_t offset, int event)
{
    PyThreadState *tstate = _PyThreadState_GET();
    if (tstate->tracing ||
        (offset >= 0 && !(state->active &
                          capi_tools_for(tstate->interp, codelike, event)))) {
        return 0;
    }
    PyObject *type, *value, *tb;
    _PyErr_Fetch(tstate, &type, &value, &tb);
    if (type == NULL) {
        PyErr_Format(PyExc_SystemError,
                     "%s event fired from C without an exception set",
                     event_names[event]);
        return -1;
    }
    _PyErr_NormalizeException(tstate, &type, &value, &tb);
    if (tb != NULL) {
        PyException_SetTraceback(value, tb);
    }
    PyMonitoringEvent ev = {event, NULL, -1, -1, -1, value, NULL};
    PyObject *args[4] = {NULL, NULL, NULL, value};
    int err = capi_fire(state, codelike, offset, &ev, args, 3);
    if (err == 0) {
        _PyErr_Restore(tstate, type, value, tb);
    }
    else {
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    }
    return err;
}

int
_PyMonitoring_FirePyStartEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset)
{
    return capi_fire_args(state, codelike, offset, PY_MONITORING_EVENT_PY_START, NULL, NULL);
}

int
_PyMonitoring_FirePyResumeEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset)
{
    return capi_fire_args(state, codelike, offset, PY_MONITORING_EVENT_PY_RESUME, NULL, NULL);
}

int
_PyMonitoring_FirePyReturnEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                                PyObject *retval)
{
    return capi_fire_args(state, codelike, offset, PY_MONITORING_EVENT_PY_RETURN, retval, NULL);
}

int
_PyMonitoring_FirePyYieldEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                               PyObject *retval)
{
    return capi_fire_args(state, codelike, offset, PY_MONITORING_EVENT_PY_YIELD, retval, NULL);
}

int
_PyMonitoring_FireCallEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                            PyObject *callable, PyObject *arg0)
{
    if (arg0 == NULL) {
        arg0 = &_PyInstrumentation_MISSING;
    }
    return capi_fire_args(state, codelike, offset, PY_MONITORING_EVENT_CALL, callable, arg0);
}

int
_PyMonitoring_FireLineEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                            int lineno)
{
    assert(!PyErr_Occurred());
    PyMonitoringEvent ev = {PY_MONITORING_EVENT_LINE, NULL, -1, lineno, -1, NULL, NULL};
    PyObject *args[3] = {NULL, NULL, NULL};
    return capi_fire(state, codelike, offset, &ev, args, 2);
}

int
_PyMonitoring_FireJumpEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                            PyObject *target_offset)
{
    return capi_fire_target(state, codelike, offset, PY_MONITORING_EVENT_JUMP, target_offset);
}

int
_PyMonitoring_FireBranchEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                              PyObject *target_offset)
{
    return capi_fire_target(state, codelike, offset, PY_MONITORING_EVENT_BRANCH, target_offset);
}

int
_PyMonitoring_FireBranchLeftEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                                  PyObject *target_offset)
{
    return capi_fire_target(state, codelike, offset, PY_MONITORING_EVENT_BRANCH_LEFT,
                            target_offset);
}

int
_PyMonitoring_FireBranchRightEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                                   PyObject *target_offset)
{
    return capi_fire_target(state, codelike, offset, PY_MONITORING_EVENT_BRANCH_RIGHT,
                            target_offset);
}

int
_PyMonitoring_FireCReturnEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                               PyObject *retval)
{
    return capi_fire_args(state, codelike, offset, PY_MONITORING_EVENT_C_RETURN, retval, NULL);
}

int
_PyMonitoring_FirePyThrowEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset)
{
    return capi_fire_exc(state, codelike, offset, PY_MONITORING_EVENT_PY_THROW);
}

int
_PyMonitoring_FireRaiseEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset)
{
    return capi_fire_exc(state, codelike, offset, PY_MONITORING_EVENT_RAISE);
}

int
_PyMonitoring_FireReraiseEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset)
{
    return capi_fire_exc(state, codelike, offset, PY_MONITORING_EVENT_RERAISE);
}

int
_PyMonitoring_FireExceptionHandledEvent(PyMonitoringState *state, PyObject *codelike,
                                        int32_t offset)
{
    return capi_fire_exc(state, codelike, offset, PY_MONITORING_EVENT_EXCEPTION_HANDLED);
}

int
_PyMonitoring_FireCRaiseEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset)
{
    return capi_fire_exc(state, codelike, offset, PY_MONITORING_EVENT_C_RAISE);
}

int
_PyMonitoring_FirePyUnwindEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset)
{
    return capi_fire_exc(state, codelike, offset, PY_MONITORING_EVENT_PY_UNWIND);
}

int
_PyMonitoring_FireStopIterationEvent(PyMonitoringState *state, PyObject *codelike,
                                     int32_t offset, PyObject *value)
{
    assert(!PyErr_Occurred());
    PyThreadState *tstate = _PyThreadState_GET();
    if (tstate->tracing ||
        (offset >= 0 && !(state->active &
                          capi_tools_for(tstate->interp, codelike,
                                         PY_MONITORING_EVENT_STOP_ITERATION)))) {
        return 0;
    }
    PyObject *exc;
    if (PyObject_TypeCheck(value, (PyTypeObject *)PyExc_StopIteration)) {
        Py_INCREF(value);
        exc = value;
    }
    else {
        exc = PyObject_CallOneArg(PyExc_StopIteration, value);
        if (exc == NULL) {
            return -1;
        }
    }
    int err = capi_fire_args(state, codelike, offset, PY_MONITORING_EVENT_STOP_ITERATION,
                             exc, NULL);
    Py_DECREF(exc);
    return err;
}
