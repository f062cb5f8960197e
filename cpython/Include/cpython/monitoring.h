/* The public C API of sys.monitoring (PEP 669): firing events from C.

   Reached through Python.h; not part of the limited API or the stable ABI.
   Doc/c-api/monitoring.rst documents it.

   Compiled code (Cython modules, extensions that run user code, embedders)
   uses it to report what it executes in the same terms as the interpreter,
   so that every tool sees one picture of the program.  Names, arguments and
   return conventions are those of CPython 3.13/3.14; the parts marked "fork"
   below are extensions of this build.

   Cost when no tool listens: each PyMonitoring_Fire*Event() is an inline test
   of state->active in front of an exported function, so a call site costs one
   byte load and a branch.  PyMonitoring_EnterScope() costs a comparison of
   the caller's version with the interpreter's while nothing changes.

   Native callbacks (fork)
   -----------------------

   PEP 669 callbacks are Python callables.  A tool written in C can instead
   register a C function with PyMonitoring_RegisterNativeCallback(): the
   interpreter then calls it with the event's arguments as C values (a
   PyMonitoringEvent), with no argument tuple, no frame and no conversion of
   offsets or line numbers to int objects when the event is fired from C.

   Design: a native callback is stored where sys.monitoring keeps Python
   callbacks, wrapped in a small callable object (type
   sys.monitoring.NativeCallback).  So everything that manages callbacks works
   unchanged and one tool can mix native and Python callbacks while other
   tools use either:

   - sys.monitoring.register_callback() returns the wrapper as the previous
     callback, and accepts it back, so a tool can save and restore callbacks
     of any kind;
   - the wrapper is callable from Python with the arguments a Python callback
     gets (code, offset, ...), so a tool that chains to the previous callback
     keeps working; it converts them to a PyMonitoringEvent and calls the C
     function;
   - its repr names the C function's address, the user data and the event it
     was registered for; its attributes `event` and `tool` give those numbers.

   The interpreter recognizes the wrapper's exact type and calls the C
   function directly, for events fired from C and from the eval loop alike.

   Lifetime: the wrapper owns `data`.  `free_data(data)`, when not NULL, is
   called once, when the wrapper is destroyed: after it was replaced or
   unregistered (register_callback(..., None), clear_tool_id(),
   free_tool_id(), a new registration for the same tool and event) and the
   last reference to it is gone, or at interpreter finalization.  A callback
   may unregister itself: the wrapper stays alive until it returns.

   Threads: registration and every call happen with the GIL held (an attached
   thread state).  The callback runs on the thread that fired the event, so a
   callback shared by several threads must protect shared data itself (it may
   rely on the GIL as long as it does not release it).  Registrations are per
   interpreter, like all of sys.monitoring's state.
*/

#ifndef Py_LIMITED_API
#ifndef Py_CPYTHON_MONITORING_H
#define Py_CPYTHON_MONITORING_H
#ifdef __cplusplus
extern "C" {
#endif

/* Event identifiers: sys.monitoring.events.X == 1 << PY_MONITORING_EVENT_X.
   The numbering is CPython 3.14's. */

/* Local events: may be set per code object, a callback may DISABLE them. */
#define PY_MONITORING_EVENT_PY_START 0
#define PY_MONITORING_EVENT_PY_RESUME 1
#define PY_MONITORING_EVENT_PY_RETURN 2
#define PY_MONITORING_EVENT_PY_YIELD 3
#define PY_MONITORING_EVENT_CALL 4
#define PY_MONITORING_EVENT_LINE 5
#define PY_MONITORING_EVENT_INSTRUCTION 6
#define PY_MONITORING_EVENT_JUMP 7
#define PY_MONITORING_EVENT_BRANCH_LEFT 8
#define PY_MONITORING_EVENT_BRANCH_RIGHT 9
#define PY_MONITORING_EVENT_STOP_ITERATION 10

/* True if event id `ev` is a local event (the deprecated BRANCH is one too). */
#define PY_MONITORING_IS_INSTRUMENTED_EVENT(ev) \
    ((ev) < 11 || (ev) == 18)

/* Exception events: global only. */
#define PY_MONITORING_EVENT_RAISE 11
#define PY_MONITORING_EVENT_EXCEPTION_HANDLED 12
#define PY_MONITORING_EVENT_PY_UNWIND 13
#define PY_MONITORING_EVENT_PY_THROW 14
#define PY_MONITORING_EVENT_RERAISE 15

/* Ancillary events: delivered to the tools that monitor CALL there. */
#define PY_MONITORING_EVENT_C_RETURN 16
#define PY_MONITORING_EVENT_C_RAISE 17

/* Deprecated since 3.14 in favour of BRANCH_LEFT and BRANCH_RIGHT. */
#define PY_MONITORING_EVENT_BRANCH 18

/* The activation state of one event in one scope.  Allocated by the caller
   (sizeof is part of this build's ABI), zero-initialized, and filled in by
   PyMonitoring_EnterScope().  `active` is the set of tools (bit i: tool i)
   that may want the event; the Fire functions clear a tool's bit when its
   callback returns DISABLE.  `opaque` is reserved. */
typedef struct _PyMonitoringState {
    uint8_t active;
    uint8_t opaque;
} PyMonitoringState;

/* Scopes.  Call PyMonitoring_EnterScope() whenever the emulated function (or
   class body, or generator resumption) is entered, with the same state array
   and version each time; it returns at once if nothing changed since.  0 on
   success, -1 with an exception set on error. */
PyAPI_FUNC(int)
PyMonitoring_EnterScope(PyMonitoringState *state_array, uint64_t *version,
                        const uint8_t *event_types, Py_ssize_t length);

PyAPI_FUNC(int)
PyMonitoring_ExitScope(void);


/* The exported halves of the Fire functions: call the inline ones below. */
PyAPI_FUNC(int) _PyMonitoring_FirePyStartEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset);
PyAPI_FUNC(int) _PyMonitoring_FirePyResumeEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset);
PyAPI_FUNC(int) _PyMonitoring_FirePyReturnEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset, PyObject *retval);
PyAPI_FUNC(int) _PyMonitoring_FirePyYieldEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset, PyObject *retval);
PyAPI_FUNC(int) _PyMonitoring_FireCallEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset,
    PyObject *callable, PyObject *arg0);
PyAPI_FUNC(int) _PyMonitoring_FireLineEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset, int lineno);
PyAPI_FUNC(int) _PyMonitoring_FireJumpEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset, PyObject *target_offset);
PyAPI_FUNC(int) _PyMonitoring_FireBranchEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset, PyObject *target_offset);
PyAPI_FUNC(int) _PyMonitoring_FireBranchLeftEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset, PyObject *target_offset);
PyAPI_FUNC(int) _PyMonitoring_FireBranchRightEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset, PyObject *target_offset);
PyAPI_FUNC(int) _PyMonitoring_FireCReturnEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset, PyObject *retval);
PyAPI_FUNC(int) _PyMonitoring_FirePyThrowEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset);
PyAPI_FUNC(int) _PyMonitoring_FireRaiseEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset);
PyAPI_FUNC(int) _PyMonitoring_FireReraiseEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset);
PyAPI_FUNC(int) _PyMonitoring_FireExceptionHandledEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset);
PyAPI_FUNC(int) _PyMonitoring_FireCRaiseEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset);
PyAPI_FUNC(int) _PyMonitoring_FirePyUnwindEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset);
PyAPI_FUNC(int) _PyMonitoring_FireStopIterationEvent(
    PyMonitoringState *state, PyObject *codelike, int32_t offset, PyObject *value);


/* Fire one event.  Each returns 0, or -1 with an exception set (raised by a
   callback or by the machinery).  Only the exception variants (PyThrow,
   Raise, Reraise, ExceptionHandled, CRaise, PyUnwind) may be called with an
   exception set: they report it, and it is still set when they return 0. */

#define _PYMONITORING_IF_ACTIVE(STATE, CALL) \
    ((STATE)->active ? (CALL) : 0)

static inline int
PyMonitoring_FirePyStartEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FirePyStartEvent(state, codelike, offset));
}

static inline int
PyMonitoring_FirePyResumeEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FirePyResumeEvent(state, codelike, offset));
}

static inline int
PyMonitoring_FirePyReturnEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                               PyObject *retval)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FirePyReturnEvent(state, codelike, offset, retval));
}

static inline int
PyMonitoring_FirePyYieldEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                              PyObject *retval)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FirePyYieldEvent(state, codelike, offset, retval));
}

static inline int
PyMonitoring_FireCallEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                           PyObject *callable, PyObject *arg0)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FireCallEvent(state, codelike, offset, callable, arg0));
}

static inline int
PyMonitoring_FireLineEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                           int lineno)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FireLineEvent(state, codelike, offset, lineno));
}

static inline int
PyMonitoring_FireJumpEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                           PyObject *target_offset)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FireJumpEvent(state, codelike, offset, target_offset));
}

Py_DEPRECATED(3.14) static inline int
PyMonitoring_FireBranchEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                             PyObject *target_offset)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FireBranchEvent(state, codelike, offset, target_offset));
}

static inline int
PyMonitoring_FireBranchLeftEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                                 PyObject *target_offset)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FireBranchLeftEvent(state, codelike, offset, target_offset));
}

static inline int
PyMonitoring_FireBranchRightEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                                  PyObject *target_offset)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FireBranchRightEvent(state, codelike, offset, target_offset));
}

static inline int
PyMonitoring_FireCReturnEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset,
                              PyObject *retval)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FireCReturnEvent(state, codelike, offset, retval));
}

static inline int
PyMonitoring_FirePyThrowEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FirePyThrowEvent(state, codelike, offset));
}

static inline int
PyMonitoring_FireRaiseEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FireRaiseEvent(state, codelike, offset));
}

static inline int
PyMonitoring_FireReraiseEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FireReraiseEvent(state, codelike, offset));
}

static inline int
PyMonitoring_FireExceptionHandledEvent(PyMonitoringState *state, PyObject *codelike,
                                       int32_t offset)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FireExceptionHandledEvent(state, codelike, offset));
}

static inline int
PyMonitoring_FireCRaiseEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FireCRaiseEvent(state, codelike, offset));
}

static inline int
PyMonitoring_FirePyUnwindEvent(PyMonitoringState *state, PyObject *codelike, int32_t offset)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FirePyUnwindEvent(state, codelike, offset));
}

static inline int
PyMonitoring_FireStopIterationEvent(PyMonitoringState *state, PyObject *codelike,
                                    int32_t offset, PyObject *value)
{
    return _PYMONITORING_IF_ACTIVE(state,
        _PyMonitoring_FireStopIterationEvent(state, codelike, offset, value));
}

#undef _PYMONITORING_IF_ACTIVE


/* Native callbacks (fork) ---------------------------------------------------
   See the comment at the top of this file for the design, lifetime and
   thread-safety rules. */

/* The arguments of one event, as C values.  Every pointer is borrowed for
   the duration of the call. */
typedef struct {
    int event;              /* PY_MONITORING_EVENT_* */
    PyObject *code;         /* the code object, or the code-like object the
                               firing C code passed */
    int32_t offset;         /* byte offset of the instruction; -1 for a LINE
                               event whose offset is not known */
    int lineno;             /* LINE: the line number; otherwise -1 */
    int32_t target_offset;  /* JUMP, BRANCH_LEFT, BRANCH_RIGHT, BRANCH: the
                               destination; otherwise -1 */
    PyObject *arg;          /* PY_RETURN, PY_YIELD: the value; CALL and, from
                               the eval loop, C_RETURN and C_RAISE: the
                               callable; C_RETURN fired from C: the value;
                               STOP_ITERATION and the exception events
                               (C_RAISE fired from C too): the exception;
                               otherwise NULL */
    PyObject *arg0;         /* CALL, and C_RETURN/C_RAISE from the eval loop:
                               the first argument or sys.monitoring.MISSING;
                               otherwise NULL */
} PyMonitoringEvent;

/* A native callback's return value that asks for the event to be disabled at
   this location for this tool, as returning sys.monitoring.DISABLE does. */
#define PY_MONITORING_DISABLE 1

/* Return 0, PY_MONITORING_DISABLE, or -1 with an exception set (which
   propagates into the monitored code, as a Python callback's does). */
typedef int (*PyMonitoring_NativeCallback)(const PyMonitoringEvent *event, void *data);

/* Register `func` as tool_id's callback for event_id (a PY_MONITORING_EVENT_*
   number, not a bit set), replacing any callback, Python or native.  With
   func NULL, unregister (data and free_data must then be NULL).  Raises the
   audit event sys.monitoring.register_callback with the wrapper object.
   Returns 0, or -1 with an exception set, in which case free_data has not
   been called and the caller still owns data. */
PyAPI_FUNC(int)
PyMonitoring_RegisterNativeCallback(int tool_id, int event_id,
                                    PyMonitoring_NativeCallback func, void *data,
                                    void (*free_data)(void *));

#ifdef __cplusplus
}
#endif
#endif /* !Py_CPYTHON_MONITORING_H */
#endif /* !Py_LIMITED_API */
