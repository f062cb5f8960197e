/* sys.settrace's 'line' event, inline in the engine.

   Python/legacy_tracing.c implements sys.settrace and sys.setprofile as the
   internal monitoring tools 7 and 6 (its opening comment has the design).
   Their 'line' event is the one event a line tracer gets for nearly every
   line executed, so the engine's LINE dispatch
   (_Py_call_instrumentation_line() in Python/instrumentation.c) runs it
   inline: as a call into legacy_tracing.c it cost about 27 machine
   instructions more per event, 3% of a coverage.py 6.5 run on code with
   short lines.  Only the engine includes this header. */

#ifndef Py_INTERNAL_LEGACY_TRACING_H
#define Py_INTERNAL_LEGACY_TRACING_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

#include "pycore_frame.h"         // _PyFrame_GetFrameObject()
#include "pycore_interp.h"        // PyInterpreterState.monitoring
#include "pycore_pystate.h"       // _PyThreadState_UpdateTracingState()

/* LINE at a location where a line may start (a superset of where 3.11 could
   report one: the engine puts a LINE layer at every instruction that begins
   a line in bytecode order, every jump target and every exception handler),
   for the thread's trace function.  `prev` is the instruction this frame
   executed before; `due` says whether 3.11 reports a line here (the engine
   works it out from its side table).  What 3.11's maybe_call_line_trace()
   and call_trace() did, with the line known.

   interp->monitoring.legacy_jumped_to is where a trace function jumped to
   (frame.f_lineno) from a 'line' event: 3.11 runs that instruction without
   a 'line' or 'opcode' event (_PyLegacyTracing_Instruction() reads it too).
   One slot per interpreter is enough: the eval loop goes there at once,
   under the GIL. */
static inline int
_PyLegacyTracing_Line(PyThreadState *tstate, _PyInterpreterFrame *frame,
                      _Py_CODEUNIT *instr, _Py_CODEUNIT *prev, int line, int due)
{
    Py_tracefunc func = tstate->_c_tracefunc_set;
    if (func == NULL) {
        return 0;
    }
    struct _Py_monitoring_state *m = &tstate->interp->monitoring;
    if (prev == instr) {
        /* Arrived here by a jump a trace function made: 3.11 runs the
           instruction at once (`due` is false). */
        m->legacy_jumped_to = instr;
        return 0;
    }
    m->legacy_jumped_to = NULL;
    if (!due) {
        return 0;
    }
    PyFrameObject *f = _PyFrame_GetFrameObject(frame);
    if (f == NULL) {
        return -1;
    }
    if (!f->f_trace_lines) {
        return 0;
    }
    assert(!tstate->tracing);
    int old_what = tstate->tracing_what;
    tstate->tracing_what = PyTrace_LINE;
    tstate->tracing++;
    tstate->cframe->use_tracing = 0;
    f->f_lineno = line;
    int result = func(tstate->c_traceobj, f, PyTrace_LINE, Py_None);
    f->f_lineno = 0;
    tstate->tracing--;
    _PyThreadState_UpdateTracingState(tstate);
    tstate->tracing_what = old_what;
    if (result != 0) {
        return -1;
    }
    if (frame->prev_instr != instr) {
        m->legacy_jumped_to = frame->prev_instr;
    }
    return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_LEGACY_TRACING_H */
