/* sys.setprofile() and sys.settrace() as sys.monitoring tools.

   What
   ----

   The profile and trace functions of 3.11 (sys.setprofile, sys.settrace,
   threading.setprofile/settrace, PyEval_SetProfile, PyEval_SetTrace) get
   their events from the sys.monitoring engine (instrumentation.c) instead of
   from a test in the eval loop's dispatch.  Two tools beside the six user
   ids, invisible to sys.monitoring, deliver them:

     PY_MONITORING_SYS_PROFILE_ID (6)   PY_START, PY_RESUME    -> 'call'
                                        PY_RETURN, PY_YIELD    -> 'return'
                                        CALL, C_RETURN, C_RAISE (of builtin
                                        functions and method descriptors)
                                            -> 'c_call', 'c_return',
                                               'c_exception'
     PY_MONITORING_SYS_TRACE_ID (7)     PY_START, PY_RESUME    -> 'call'
                                        PY_RETURN, PY_YIELD    -> 'return'
                                        LINE                   -> 'line'
                                          (local: in the code of frames
                                          that want lines, see "Lines")
                                        INSTRUCTION            -> 'opcode'

   The engine calls them before the user's tools (highest id first), the
   trace function before the profile function, which is 3.11's order.  They
   are C functions called with the event's objects as they are: no offset or
   line number is boxed for them.

   Why
   ---

   Stock 3.11 ORs cframe.use_tracing into every opcode it dispatches and,
   while a function is set, runs every instruction of the thread through
   DO_TRACING in its generic form.  Here dispatch tests nothing: code no
   function looks at runs as if no tool existed, and traced code runs
   specialized except where an event is due (the instrumented instructions
   and the LINE/INSTRUCTION layers).  With one mechanism, sys.settrace and
   sys.monitoring tools also see the same program the same way.

   Invariants
   ----------

   - Functions are per thread, instrumentation is per interpreter: a tool's
     events are on while some thread of the interpreter has its function
     (sys_profiling_threads, sys_tracing_threads count them; they change in
     _PyEval_SetProfile(), _PyEval_SetTrace() and PyThreadState_Clear(),
     under the GIL).  A thread without a function ignores the events (one
     test), as upstream's threads do.
   - tstate->c_profilefunc, c_profileobj, c_tracefunc, c_traceobj and
     cframe->use_tracing keep their 3.11 meaning, for the compiled code that
     reads them (Cython's generated code calls the functions itself).
   - 3.11's semantics are kept exactly, including where upstream 3.12 changed
     them: a 'line' event is due when the line differs from that of the
     instruction executed before, or on a jump backwards (not the one at the
     end of a yield from / await loop), not where a trace function has just
     jumped to (frame.f_lineno), and never for instructions without a line
     (_Py_call_instrumentation_line()); 'opcode' events skip the instruction after an
     EXTENDED_ARG, as 3.11's dispatch did; 'c_call' reports builtin functions
     and, bound to their first argument, method descriptors; the generator's
     state is "suspended" during the 'return' event of a yield, so that a
     jump may be made from it as in 3.11.  The engine never fires these
     events while tstate->tracing is raised, and neither did 3.11; RESUME
     does not even instrument code while it is (instrumentation.c,
     "Instrumentation is lazy"), so a trace function's own code runs at full
     speed, as it did under 3.11.  The 'line' event, which a line tracer
     gets for nearly every line, is the one part that is not in this file:
     the engine runs it inline (Include/internal/pycore_legacy_tracing.h).
   - The events that come from the eval loop's exception paths (the
     'exception' event, the 'return' event of a frame that an exception
     unwinds, and the 'call' event of gen.throw()) stay tests of
     use_tracing and c_tracefunc there, as in 3.11: they cost nothing on the
     normal path, as the engine's own exception events do not.
   - 'opcode' events need INSTRUCTION layers everywhere: they are switched on
     when a frame first sets f_trace_opcodes (frame.c) and stay on while a
     thread traces, since frames keep the flag.

   ABI
   ---

   No field that extensions can see moves: the functions set with
   PyEval_SetProfile/SetTrace are kept in two fields appended to
   PyThreadState (which only the runtime allocates), the per-interpreter
   counts are appended to the interpreter's monitoring state, the frame
   object keeps its layout, and DO_TRACING keeps its opcode number (it is
   never dispatched now).  c_profilefunc and c_tracefunc may point at the
   bridge below while user tools want the events of compiled code. */

#include "Python.h"
#include "pycore_ceval.h"         // _PyEval_CallTrace()
#include "pycore_frame.h"         // _PyInterpreterFrame, PyFrameObject
#include "pycore_instruments.h"
#include "pycore_interp.h"        // PyInterpreterState.monitoring
#include "pycore_pyerrors.h"      // _PyErr_Fetch()
#include "pycore_pystate.h"       // _PyThreadState_GET()


#define PROFILE_EVENTS \
    ((1 << PY_MONITORING_EVENT_PY_START) | (1 << PY_MONITORING_EVENT_PY_RESUME) | \
     (1 << PY_MONITORING_EVENT_PY_RETURN) | (1 << PY_MONITORING_EVENT_PY_YIELD) | \
     (1 << PY_MONITORING_EVENT_CALL))
/* LINE is not among them: it is local to the code of the frames that want
   'line' events (see "Lines" below). */
#define TRACE_EVENTS \
    ((1 << PY_MONITORING_EVENT_PY_START) | (1 << PY_MONITORING_EVENT_PY_RESUME) | \
     (1 << PY_MONITORING_EVENT_PY_RETURN) | (1 << PY_MONITORING_EVENT_PY_YIELD))


/* Switching the tools on and off --------------------------------------------*/

static int
update_tools(PyInterpreterState *interp, int now)
{
    struct _Py_monitoring_state *m = &interp->monitoring;
    int profile = m->sys_profiling_threads > 0 ? PROFILE_EVENTS : 0;
    int trace = 0;
    if (m->sys_tracing_threads > 0) {
        trace = TRACE_EVENTS;
        if (m->sys_trace_opcodes) {
            trace |= 1 << PY_MONITORING_EVENT_INSTRUCTION;
        }
    }
    return _PyMonitoring_SetLegacyEvents(interp, profile, trace, now);
}

static void
count_threads(PyThreadState *tstate, int had_profile, int had_trace)
{
    struct _Py_monitoring_state *m = &tstate->interp->monitoring;
    m->sys_profiling_threads += (tstate->_c_profilefunc_set != NULL) - (had_profile != 0);
    m->sys_tracing_threads += (tstate->_c_tracefunc_set != NULL) - (had_trace != 0);
    assert(m->sys_profiling_threads >= 0 && m->sys_tracing_threads >= 0);
}

static void update_bridge(PyThreadState *tstate, int profile, int trace);
static void wanted_bridges(PyInterpreterState *interp, int *profile, int *trace);


/* Lines ----------------------------------------------------------------------

   A 'line' event goes to a frame's trace function only if the frame wants
   it: with sys.settrace's trampoline, while the frame has a local trace
   function (frame.f_trace: the trace function returned one from the 'call'
   event, or something set it), and with any trace function while
   frame.f_trace_lines is true.  Most tracers want lines in few frames:
   bdb (pdb) returns no local function for frames where it has no reason
   to stop, coverage.py sets f_trace_lines to false in code it does not
   measure (libraries, the standard library).  So the trace tool's LINE is
   not a global event but a local one, switched on in a code object when a
   frame of it turns out to want lines: after its 'call' event (start or
   resumption), when f_trace or f_trace_lines is set, and, for the frames
   already running, when the thread's trace function is set.  Code that no
   traced frame wants lines in is never given LINE layers, runs only the
   'call' and 'return' instrumentation, and costs nothing per line; code a
   frame did want lines in keeps them (another frame may want them too)
   until the last trace function goes.  Whether a frame wants its lines is
   still decided at each event (pycore_legacy_tracing.h), so a layer where
   no frame wants one costs a test, never an event.
   A code object is instrumented (at its RESUME) before its first 'call'
   event can tell, and putting the layers in afterwards is a second pass
   over the bytecode, as costly as the first on code that runs once.  So
   the first pass guesses (monitoring.legacy_lines_hint, which
   force_instrument() reads): lines, if the last frame whose 'call' event
   the trace function got wanted them.  A tracer that wants lines
   everywhere pays for one pass per code object, one that wants them
   nowhere for none; a wrong guess costs a pass or layers that fire no
   event, never a wrong event. */

static inline int
frame_wants_lines(Py_tracefunc func, PyFrameObject *f)
{
    if (f == NULL) {
        /* No frame object yet: no f_trace, f_trace_lines as it starts */
        return !_PySys_IsTraceTrampoline(func);
    }
    return f->f_trace_lines && (f->f_trace != NULL || !_PySys_IsTraceTrampoline(func));
}

/* Does the thread's trace function want frame's lines?  With `guess`, the
   answer is also the guess for the code instrumented next (instrumentation.c,
   force_instrument()): only after a 'call' event, where the trace function
   has just said what it wants of a frame. */
static int
want_lines(PyThreadState *tstate, _PyInterpreterFrame *frame, int guess)
{
    Py_tracefunc func = tstate->_c_tracefunc_set;
    int wanted = func != NULL && frame_wants_lines(func, frame->frame_obj);
    if (guess) {
        tstate->interp->monitoring.legacy_lines_hint = wanted;
    }
    return wanted ? _PyMonitoring_WantLegacyLines(tstate->interp, frame->f_code) : 0;
}

int
_PyLegacyTracing_FrameTraced(PyFrameObject *f)
{
    PyThreadState *tstate = _PyThreadState_GET();
    /* The frame may be another thread's: any trace function counts. */
    if (tstate->interp->monitoring.sys_tracing_threads == 0 || !f->f_trace_lines) {
        return 0;
    }
    return _PyMonitoring_WantLegacyLines(tstate->interp, f->f_frame->f_code);
}

/* tstate's trace function was just set: its frames that are running get
   'line' events from now on, if they want them. */
static int
want_running_lines(PyThreadState *tstate)
{
    for (_PyInterpreterFrame *frame = tstate->cframe->current_frame;
         frame != NULL; frame = frame->previous)
    {
        if (!_PyFrame_IsIncomplete(frame) && want_lines(tstate, frame, 0) < 0) {
            return -1;
        }
    }
    return 0;
}

int
_PyLegacyTracing_Changed(PyThreadState *tstate, int had_profile, int had_trace)
{
    count_threads(tstate, had_profile, had_trace);
    int profile, trace;
    wanted_bridges(tstate->interp, &profile, &trace);
    update_bridge(tstate, profile, trace);
    if (tstate->_c_tracefunc_set != NULL && !had_trace) {
        /* Until a 'call' event says otherwise, a line tracer */
        tstate->interp->monitoring.legacy_lines_hint = 1;
    }
    if (update_tools(tstate->interp, 1) < 0) {
        return -1;
    }
    return tstate->_c_tracefunc_set != NULL ? want_running_lines(tstate) : 0;
}

void
_PyLegacyTracing_ThreadCleared(PyThreadState *tstate, int had_profile, int had_trace)
{
    count_threads(tstate, had_profile, had_trace);
    (void)update_tools(tstate->interp, 0);
}

int
_PyLegacyTracing_OpcodesWanted(PyThreadState *tstate)
{
    PyInterpreterState *interp = tstate->interp;
    if (interp->monitoring.sys_trace_opcodes) {
        return 0;
    }
    interp->monitoring.sys_trace_opcodes = 1;
    return update_tools(interp, 1);
}


/* The events ------------------------------------------------------------*/

/* The callable a 'c_call' event reports for a call of `callable` with first
   argument `arg0`, as 3.11's eval loop chose it: builtin functions, and
   method descriptors bound to their first argument.  Sets *out to a new
   reference or to NULL (no event); -1 with an exception set if binding
   fails (the call fails with it, as in 3.11). */
static int
c_function(PyObject *callable, PyObject *arg0, PyObject **out)
{
    *out = NULL;
    if (!_PyLegacyTracing_ReportsCall(callable, arg0)) {
        return 0;
    }
    if (!Py_IS_TYPE(callable, &PyMethodDescr_Type)) {
        Py_INCREF(callable);
        *out = callable;
    }
    else {
        *out = Py_TYPE(callable)->tp_descr_get(callable, arg0,
                                               (PyObject *)Py_TYPE(arg0));
        if (*out == NULL) {
            return -1;
        }
    }
    return 0;
}

static int
c_event(PyThreadState *tstate, _PyInterpreterFrame *frame, int what,
        PyObject *callable, PyObject *arg0)
{
    PyObject *func;
    if (c_function(callable, arg0, &func) < 0) {
        return -1;
    }
    if (func == NULL) {
        return 0;
    }
    /* C_RAISE comes with the exception already put aside by the engine. */
    int err = _PyEval_CallTrace(tstate->_c_profilefunc_set, tstate->c_profileobj,
                                tstate, frame, what, func);
    Py_DECREF(func);
    return err;
}

/* The 'return' event of a yield sees the generator suspended, as 3.11's
   YIELD_VALUE had made it before the event. */
static int
yield_event(PyThreadState *tstate, Py_tracefunc func, PyObject *obj,
            _PyInterpreterFrame *frame, PyObject *value)
{
    if (frame->owner != FRAME_OWNED_BY_GENERATOR) {
        return _PyEval_CallTraceProtected(func, obj, tstate, frame, PyTrace_RETURN, value);
    }
    PyGenObject *gen = _PyFrame_GetGenerator(frame);
    int8_t state = gen->gi_frame_state;
    gen->gi_frame_state = FRAME_SUSPENDED;
    int err = _PyEval_CallTraceProtected(func, obj, tstate, frame, PyTrace_RETURN, value);
    gen->gi_frame_state = state;
    return err;
}

/* The events of the two tools in `tools` (trace first, then profile, as
   3.11 calls them). */
int
_PyLegacyTracing_Event(PyThreadState *tstate, uint8_t tools, int event,
                       _PyInterpreterFrame *frame, PyObject *const *args,
                       Py_ssize_t nargs)
{
    Py_tracefunc trace = ((tools >> PY_MONITORING_SYS_TRACE_ID) & 1)
                         ? tstate->_c_tracefunc_set : NULL;
    Py_tracefunc profile = ((tools >> PY_MONITORING_SYS_PROFILE_ID) & 1)
                           ? tstate->_c_profilefunc_set : NULL;
    /* NULL: another thread's function */
    switch (event) {
        case PY_MONITORING_EVENT_PY_START:
        case PY_MONITORING_EVENT_PY_RESUME:
            if (trace != NULL &&
                (_PyEval_CallTraceProtected(trace, tstate->c_traceobj, tstate, frame,
                                            PyTrace_CALL, Py_None) < 0 ||
                 want_lines(tstate, frame, 1) < 0)) {
                return -1;
            }
            if (profile != NULL &&
                _PyEval_CallTraceProtected(profile, tstate->c_profileobj, tstate, frame,
                                           PyTrace_CALL, Py_None) < 0) {
                return -1;
            }
            return 0;
        case PY_MONITORING_EVENT_PY_RETURN:
            assert(nargs == 1);
            if (trace != NULL &&
                _PyEval_CallTraceProtected(trace, tstate->c_traceobj, tstate, frame,
                                           PyTrace_RETURN, args[0]) < 0) {
                return -1;
            }
            if (profile != NULL &&
                _PyEval_CallTraceProtected(profile, tstate->c_profileobj, tstate, frame,
                                           PyTrace_RETURN, args[0]) < 0) {
                return -1;
            }
            return 0;
        case PY_MONITORING_EVENT_PY_YIELD:
            assert(nargs == 1);
            if (trace != NULL &&
                yield_event(tstate, trace, tstate->c_traceobj, frame, args[0]) < 0) {
                return -1;
            }
            if (profile != NULL &&
                yield_event(tstate, profile, tstate->c_profileobj, frame, args[0]) < 0) {
                return -1;
            }
            return 0;
        case PY_MONITORING_EVENT_CALL:
            assert(nargs == 2);
            return profile == NULL ? 0
                : c_event(tstate, frame, PyTrace_C_CALL, args[0], args[1]);
        case PY_MONITORING_EVENT_C_RETURN:
            assert(nargs == 2);
            return profile == NULL ? 0
                : c_event(tstate, frame, PyTrace_C_RETURN, args[0], args[1]);
        case PY_MONITORING_EVENT_C_RAISE:
            assert(nargs == 2);
            return profile == NULL ? 0
                : c_event(tstate, frame, PyTrace_C_EXCEPTION, args[0], args[1]);
        default:
            return 0;
    }
}

int
_PyLegacyTracing_Instruction(PyThreadState *tstate, _PyInterpreterFrame *frame,
                             _Py_CODEUNIT *instr, int after_extended_arg)
{
    Py_tracefunc func = tstate->_c_tracefunc_set;
    if (func == NULL || after_extended_arg) {
        return 0;
    }
    struct _Py_monitoring_state *m = &tstate->interp->monitoring;
    if (instr == m->legacy_jumped_to) {
        /* Where a trace function's jump landed (pycore_legacy_tracing.h) */
        m->legacy_jumped_to = NULL;
        return 0;
    }
    PyFrameObject *f = frame->frame_obj;
    if (f == NULL || !f->f_trace_opcodes) {
        return 0;
    }
    return _PyEval_CallTrace(func, tstate->c_traceobj, tstate, frame,
                             PyTrace_OPCODE, Py_None);
}


/* Old-style events from compiled code -------------------------------------

   Code compiled for 3.11 (Cython's profile=True/linetrace=True modules, for
   instance) reports its own functions the 3.11 way: it tests
   tstate->cframe->use_tracing, then calls tstate->c_profilefunc and
   tstate->c_tracefunc itself with a frame object of its own code object
   (PyTrace_CALL, PyTrace_LINE, PyTrace_RETURN with NULL for an exceptional
   exit, PyTrace_EXCEPTION).  Upstream's tools never see those events.  Here,
   while some user tool wants PY_START, PY_RESUME, PY_RETURN, PY_YIELD,
   PY_UNWIND, RAISE or LINE (globally or in some code object), every thread's
   c_profilefunc and c_tracefunc point at the bridge below (so use_tracing is
   set, and compiled code sends its events): it calls the functions set with
   PyEval_SetProfile/SetTrace exactly as the compiled code would have, if any
   (tstate->_c_profilefunc_set, _c_tracefunc_set), then fires the event for
   the user's tools, as the C API does for a code-like object at offset 0:
   PyTrace_CALL -> PY_START, PyTrace_RETURN -> PY_RETURN or, with NULL,
   PY_UNWIND, PyTrace_EXCEPTION -> RAISE, PyTrace_LINE -> LINE (the frame's
   line).  The old protocol does not tell a resumption from a start nor a
   yield from a return, so generators compiled this way report PY_START and
   PY_RETURN.  The exception of an exceptional exit has been put aside by the
   compiled code (Cython does), so PY_UNWIND carries the exception if one is
   set and None otherwise.
   Interpreted code never calls the bridge: the eval loop calls the functions
   set directly, and the bridge only passes on events for frames that belong
   to no running interpreter frame (frame objects compiled code made).
   Compiled code sends each call/return to both c_tracefunc and
   c_profilefunc: the user's tools get it once, from the profile side.
   Callback errors: a LINE callback's exception propagates, as a raising
   trace function's does; the others are reported as unraisable (compiled
   code does not expect its profile function to fail). */

#define BRIDGE_PROFILE_EVENTS \
    ((1 << PY_MONITORING_EVENT_PY_START) | (1 << PY_MONITORING_EVENT_PY_RESUME) | \
     (1 << PY_MONITORING_EVENT_PY_RETURN) | (1 << PY_MONITORING_EVENT_PY_YIELD) | \
     (1 << PY_MONITORING_EVENT_PY_UNWIND) | (1 << PY_MONITORING_EVENT_RAISE))
#define BRIDGE_TRACE_EVENTS (1 << PY_MONITORING_EVENT_LINE)

static int profile_bridge(PyObject *obj, PyFrameObject *f, int what, PyObject *arg);
static int trace_bridge(PyObject *obj, PyFrameObject *f, int what, PyObject *arg);

static void
wanted_bridges(PyInterpreterState *interp, int *profile, int *trace)
{
    struct _Py_monitoring_state *m = &interp->monitoring;
    const uint8_t user = (uint8_t)((1 << PY_MONITORING_TOOL_IDS) - 1);
    int want = 0;
    for (int e = 0; e < _PY_MONITORING_EVENTS; e++) {
        if ((m->events.tools[e] | m->local_any.tools[e]) & user) {
            want |= 1 << e;
        }
    }
    /* Compiled code sends exceptions to c_profilefunc even when only
       c_tracefunc is set (Cython 0.29): the two go together. */
    *profile = *trace = (want & (BRIDGE_PROFILE_EVENTS | BRIDGE_TRACE_EVENTS)) != 0;
}

static void
update_bridge(PyThreadState *tstate, int profile, int trace)
{
    Py_tracefunc p = profile ? profile_bridge : tstate->_c_profilefunc_set;
    Py_tracefunc t = trace ? trace_bridge : tstate->_c_tracefunc_set;
    if (tstate->c_profilefunc != p || tstate->c_tracefunc != t) {
        tstate->c_profilefunc = p;
        tstate->c_tracefunc = t;
        _PyThreadState_UpdateTracingState(tstate);
    }
}

void
_PyLegacyTracing_UpdateBridges(PyInterpreterState *interp)
{
    int profile, trace;
    wanted_bridges(interp, &profile, &trace);
    for (PyThreadState *ts = interp->threads.head; ts != NULL; ts = ts->next) {
        update_bridge(ts, profile, trace);
    }
}

void
_PyLegacyTracing_ThreadCreated(PyThreadState *tstate)
{
    int profile, trace;
    wanted_bridges(tstate->interp, &profile, &trace);
    update_bridge(tstate, profile, trace);
}

/* A frame object compiled code made, not one of a running interpreter
   frame (whose events the eval loop reports itself). */
static inline int
compiled_frame(PyFrameObject *f)
{
    return f->f_frame->owner == FRAME_OWNED_BY_FRAME_OBJECT;
}

static int
fire_old_style(PyThreadState *tstate, PyFrameObject *f, int what, PyObject *arg)
{
    int event, lineno = -1;
    switch (what) {
        case PyTrace_CALL:
            event = PY_MONITORING_EVENT_PY_START;
            break;
        case PyTrace_RETURN:
            event = arg != NULL ? PY_MONITORING_EVENT_PY_RETURN
                                : PY_MONITORING_EVENT_PY_UNWIND;
            break;
        case PyTrace_EXCEPTION:
            event = PY_MONITORING_EVENT_RAISE;
            break;
        case PyTrace_LINE:
            event = PY_MONITORING_EVENT_LINE;
            lineno = PyFrame_GetLineNumber(f);
            break;
        default:
            return 0;
    }
    PyObject *type, *value, *tb;
    _PyErr_Fetch(tstate, &type, &value, &tb);
    if (type != NULL) {
        _PyErr_NormalizeException(tstate, &type, &value, &tb);
    }
    PyObject *evarg = NULL;
    if (event == PY_MONITORING_EVENT_PY_RETURN) {
        evarg = arg;
    }
    else if (event == PY_MONITORING_EVENT_PY_UNWIND) {
        evarg = value != NULL ? value : Py_None;
    }
    else if (event == PY_MONITORING_EVENT_RAISE) {
        /* (type, value, traceback) */
        evarg = (arg != NULL && PyTuple_Check(arg) && PyTuple_GET_SIZE(arg) == 3)
                ? PyTuple_GET_ITEM(arg, 1) : (value != NULL ? value : Py_None);
    }
    /* Compiled code raises tstate->tracing around its calls, as 3.11's eval
       loop did; the events are for its own code, not for a callback's. */
    int lowered = tstate->tracing > 0;
    tstate->tracing -= lowered;
    int err = _PyMonitoring_FireOldStyleEvent((PyObject *)f->f_frame->f_code,
                                              event, lineno, evarg);
    if (lowered) {
        tstate->tracing++;
        tstate->cframe->use_tracing = 0;
    }
    if (err < 0 && event != PY_MONITORING_EVENT_LINE) {
        PyErr_WriteUnraisable((PyObject *)f->f_frame->f_code);
        err = 0;
    }
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

static int
profile_bridge(PyObject *obj, PyFrameObject *f, int what, PyObject *arg)
{
    PyThreadState *tstate = _PyThreadState_GET();
    Py_tracefunc set = tstate->_c_profilefunc_set;
    if (set != NULL) {
        int err = set(obj, f, what, arg);
        if (err) {
            return err;
        }
    }
    if (what == PyTrace_LINE || !compiled_frame(f)) {
        return 0;
    }
    return fire_old_style(tstate, f, what, arg);
}

static int
trace_bridge(PyObject *obj, PyFrameObject *f, int what, PyObject *arg)
{
    PyThreadState *tstate = _PyThreadState_GET();
    Py_tracefunc set = tstate->_c_tracefunc_set;
    if (set != NULL) {
        int err = set(obj, f, what, arg);
        if (err) {
            return err;
        }
    }
    if (!compiled_frame(f)) {
        return 0;
    }
    if (what != PyTrace_LINE && tstate->c_profilefunc == profile_bridge) {
        /* The profile side reports it */
        return 0;
    }
    return fire_old_style(tstate, f, what, arg);
}
