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
     (_PyLegacyTracing_Line()); 'opcode' events skip the instruction after an
     EXTENDED_ARG, as 3.11's dispatch did; 'c_call' reports builtin functions
     and, bound to their first argument, method descriptors; the generator's
     state is "suspended" during the 'return' event of a yield, so that a
     jump may be made from it as in 3.11.  The engine never fires these
     events while tstate->tracing is raised, and neither did 3.11.
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

   Nothing visible to extensions changes: PyThreadState and the frame keep
   their layout, the per-interpreter counts are appended to the interpreter's
   monitoring state, and DO_TRACING keeps its opcode number (it is never
   dispatched now). */

#include "Python.h"
#include "pycore_ceval.h"         // _PyEval_CallTrace()
#include "pycore_code.h"          // _PyCode_InitLineArray()
#include "pycore_frame.h"         // _PyInterpreterFrame, PyFrameObject
#include "pycore_instruments.h"
#include "pycore_interp.h"        // PyInterpreterState.monitoring
#include "pycore_opcode.h"        // _PyOpcode_Deopt
#include "pycore_pystate.h"       // _PyThreadState_GET()


#define PROFILE_EVENTS \
    ((1 << PY_MONITORING_EVENT_PY_START) | (1 << PY_MONITORING_EVENT_PY_RESUME) | \
     (1 << PY_MONITORING_EVENT_PY_RETURN) | (1 << PY_MONITORING_EVENT_PY_YIELD) | \
     (1 << PY_MONITORING_EVENT_CALL))
#define TRACE_EVENTS \
    ((1 << PY_MONITORING_EVENT_PY_START) | (1 << PY_MONITORING_EVENT_PY_RESUME) | \
     (1 << PY_MONITORING_EVENT_PY_RETURN) | (1 << PY_MONITORING_EVENT_PY_YIELD) | \
     (1 << PY_MONITORING_EVENT_LINE))


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
    m->sys_profiling_threads += (tstate->c_profilefunc != NULL) - (had_profile != 0);
    m->sys_tracing_threads += (tstate->c_tracefunc != NULL) - (had_trace != 0);
    assert(m->sys_profiling_threads >= 0 && m->sys_tracing_threads >= 0);
}

int
_PyLegacyTracing_Changed(PyThreadState *tstate, int had_profile, int had_trace)
{
    count_threads(tstate, had_profile, had_trace);
    return update_tools(tstate->interp, 1);
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

/* Where a trace function jumped to (frame.f_lineno) from a 'line' event:
   3.11 runs that instruction without a 'line' or 'opcode' event.  One slot
   is enough: the eval loop goes there at once, under the GIL. */
static _Py_CODEUNIT *jumped_to = NULL;

/* The callable a 'c_call' event reports for a call of `callable` with first
   argument `arg0`, as 3.11's eval loop chose it: builtin functions, and
   method descriptors bound to their first argument.  Sets *out to a new
   reference or to NULL (no event); -1 with an exception set if binding
   fails (the call fails with it, as in 3.11). */
static int
c_function(PyObject *callable, PyObject *arg0, PyObject **out)
{
    *out = NULL;
    if (PyCFunction_CheckExact(callable) || PyCMethod_CheckExact(callable)) {
        Py_INCREF(callable);
        *out = callable;
    }
    else if (Py_IS_TYPE(callable, &PyMethodDescr_Type) &&
             arg0 != &_PyInstrumentation_MISSING)
    {
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
    int err = _PyEval_CallTrace(tstate->c_profilefunc, tstate->c_profileobj,
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

int
_PyLegacyTracing_Event(PyThreadState *tstate, int tool, int event,
                       _PyInterpreterFrame *frame, PyObject *const *args,
                       Py_ssize_t nargs)
{
    Py_tracefunc func;
    PyObject *obj;
    if (tool == PY_MONITORING_SYS_TRACE_ID) {
        func = tstate->c_tracefunc;
        obj = tstate->c_traceobj;
    }
    else {
        assert(tool == PY_MONITORING_SYS_PROFILE_ID);
        func = tstate->c_profilefunc;
        obj = tstate->c_profileobj;
    }
    if (func == NULL) {
        /* Another thread's function */
        return 0;
    }
    switch (event) {
        case PY_MONITORING_EVENT_PY_START:
        case PY_MONITORING_EVENT_PY_RESUME:
            return _PyEval_CallTraceProtected(func, obj, tstate, frame,
                                              PyTrace_CALL, Py_None);
        case PY_MONITORING_EVENT_PY_RETURN:
            assert(nargs == 1);
            return _PyEval_CallTraceProtected(func, obj, tstate, frame,
                                              PyTrace_RETURN, args[0]);
        case PY_MONITORING_EVENT_PY_YIELD:
            assert(nargs == 1);
            return yield_event(tstate, func, obj, frame, args[0]);
        case PY_MONITORING_EVENT_CALL:
            if (tool == PY_MONITORING_SYS_PROFILE_ID) {
                assert(nargs == 2);
                return c_event(tstate, frame, PyTrace_C_CALL, args[0], args[1]);
            }
            return 0;
        case PY_MONITORING_EVENT_C_RETURN:
        case PY_MONITORING_EVENT_C_RAISE:
            if (tool == PY_MONITORING_SYS_PROFILE_ID) {
                assert(nargs == 2);
                return c_event(tstate, frame,
                               event == PY_MONITORING_EVENT_C_RETURN
                                   ? PyTrace_C_RETURN : PyTrace_C_EXCEPTION,
                               args[0], args[1]);
            }
            return 0;
        default:
            return 0;
    }
}

/* The line of instruction `index` of co, -1 for none. */
static inline int
line_of(PyCodeObject *co, int index)
{
    return _PyCode_LineNumberFromArray(co, index);
}

/* LINE, at a location where a line may start (a superset of where 3.11
   could report one: the engine puts a LINE layer at every instruction that
   begins a line in bytecode order, every jump target and every exception
   handler).  `prev` is the instruction this frame executed before. */
int
_PyLegacyTracing_Line(PyThreadState *tstate, _PyInterpreterFrame *frame,
                      _Py_CODEUNIT *instr, _Py_CODEUNIT *prev)
{
    Py_tracefunc func = tstate->c_tracefunc;
    if (func == NULL) {
        return 0;
    }
    if (prev == instr) {
        /* Arrived here by a jump a trace function made: 3.11 runs the
           instruction at once. */
        jumped_to = instr;
        return 0;
    }
    jumped_to = NULL;
    PyCodeObject *co = frame->f_code;
    if (_PyCode_InitLineArray(co)) {
        return -1;
    }
    int i = (int)(instr - _PyCode_CODE(co));
    int line = line_of(co, i);
    if (line == -1) {
        return 0;
    }
    int p = (int)(prev - _PyCode_CODE(co));
    int lastline = (p <= co->_co_firsttraceable || p >= Py_SIZE(co))
                   ? -1 : line_of(co, p);
    if (line == lastline &&
        !(i < p && _PyMonitoring_BaseOpcode(co, i) != SEND)) {
        return 0;
    }
    PyFrameObject *f = _PyFrame_GetFrameObject(frame);
    if (f == NULL) {
        return -1;
    }
    if (!f->f_trace_lines) {
        return 0;
    }
    int err = _PyEval_CallTrace(func, tstate->c_traceobj, tstate, frame,
                                PyTrace_LINE, Py_None);
    if (err == 0 && frame->prev_instr != instr) {
        jumped_to = frame->prev_instr;
    }
    return err;
}

int
_PyLegacyTracing_Instruction(PyThreadState *tstate, _PyInterpreterFrame *frame,
                             _Py_CODEUNIT *instr, int after_extended_arg)
{
    Py_tracefunc func = tstate->c_tracefunc;
    if (func == NULL || after_extended_arg) {
        return 0;
    }
    if (instr == jumped_to) {
        jumped_to = NULL;
        return 0;
    }
    PyFrameObject *f = frame->frame_obj;
    if (f == NULL || !f->f_trace_opcodes) {
        return 0;
    }
    return _PyEval_CallTrace(func, tstate->c_traceobj, tstate, frame,
                             PyTrace_OPCODE, Py_None);
}
