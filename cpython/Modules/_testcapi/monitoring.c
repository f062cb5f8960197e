/* Tests of sys.monitoring's C API (Include/cpython/monitoring.h).

   What: Python access to every PyMonitoring_Fire*Event() function through a
   scope object, and native callbacks (a fork extension) that record what
   they receive, so that Lib/test/test_capi/test_monitoring.py can check what
   Python and native tools see.  Only the public C API is used here.

   _testcapi.MonitoringScope(event_ids) holds one PyMonitoringState per event
   id and the scope's version; enter() and exit() are PyMonitoring_EnterScope()
   and PyMonitoring_ExitScope(), active(event_id) reads a state's tool set,
   fire(event_id, codelike, offset, *args) calls the Fire function of that
   event (for the exception events args[0] is the exception to report: it is
   set first, and fire() returns the exception still set afterwards).
*/

#include "parts.h"
#include "structmember.h"

#define MAX_EVENTS 32

typedef struct {
    PyObject_HEAD
    PyMonitoringState states[MAX_EVENTS];
    uint8_t events[MAX_EVENTS];
    Py_ssize_t n;
    uint64_t version;
} ScopeObject;

static PyObject *
scope_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *ids;
    if (!PyArg_ParseTuple(args, "O:MonitoringScope", &ids)) {
        return NULL;
    }
    PyObject *seq = PySequence_Fast(ids, "event ids must be a sequence");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > MAX_EVENTS) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "too many events");
        return NULL;
    }
    ScopeObject *self = (ScopeObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long id = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if (id == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            Py_DECREF(self);
            return NULL;
        }
        if (id < 0 || id > 255) {
            Py_DECREF(seq);
            Py_DECREF(self);
            PyErr_SetString(PyExc_ValueError, "event id out of range");
            return NULL;
        }
        self->events[i] = (uint8_t)id;
    }
    Py_DECREF(seq);
    self->n = n;
    self->version = 0;
    memset(self->states, 0, sizeof(self->states));
    return (PyObject *)self;
}

static PyObject *
scope_enter(ScopeObject *self, PyObject *Py_UNUSED(ignored))
{
    if (PyMonitoring_EnterScope(self->states, &self->version, self->events, self->n) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
scope_exit(ScopeObject *self, PyObject *Py_UNUSED(ignored))
{
    if (PyMonitoring_ExitScope() < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMonitoringState *
scope_state(ScopeObject *self, int event)
{
    for (Py_ssize_t i = 0; i < self->n; i++) {
        if (self->events[i] == event) {
            return &self->states[i];
        }
    }
    PyErr_Format(PyExc_ValueError, "event %d is not in this scope", event);
    return NULL;
}

static PyObject *
scope_active(ScopeObject *self, PyObject *arg)
{
    int event = _PyLong_AsInt(arg);
    if (event == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyMonitoringState *state = scope_state(self, event);
    return state == NULL ? NULL : PyLong_FromLong(state->active);
}

/* Fire an exception event with `exc` set; return the exception still set. */
static PyObject *
fire_exc(int (*fire)(PyMonitoringState *, PyObject *, int32_t),
         PyMonitoringState *state, PyObject *code, int32_t offset, PyObject *exc)
{
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    if (fire(state, code, offset) < 0) {
        return NULL;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL) {
        Py_RETURN_NONE;
    }
    PyErr_NormalizeException(&type, &value, &tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

static PyObject *
scope_fire(ScopeObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 3) {
        PyErr_SetString(PyExc_TypeError, "fire(event_id, codelike, offset, *args)");
        return NULL;
    }
    int event = _PyLong_AsInt(args[0]);
    if (event == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *code = args[1];
    long off = PyLong_AsLong(args[2]);
    if (off == -1 && PyErr_Occurred()) {
        return NULL;
    }
    int32_t offset = (int32_t)off;
    PyMonitoringState *state = scope_state(self, event);
    if (state == NULL) {
        return NULL;
    }
    PyObject *a = nargs > 3 ? args[3] : NULL;
    PyObject *b = nargs > 4 ? args[4] : NULL;
    int need = 0;
    int r;
    switch (event) {
        case PY_MONITORING_EVENT_PY_START:
            r = PyMonitoring_FirePyStartEvent(state, code, offset);
            break;
        case PY_MONITORING_EVENT_PY_RESUME:
            r = PyMonitoring_FirePyResumeEvent(state, code, offset);
            break;
        case PY_MONITORING_EVENT_PY_RETURN:
            need = 1;
            r = a == NULL ? 0 : PyMonitoring_FirePyReturnEvent(state, code, offset, a);
            break;
        case PY_MONITORING_EVENT_PY_YIELD:
            need = 1;
            r = a == NULL ? 0 : PyMonitoring_FirePyYieldEvent(state, code, offset, a);
            break;
        case PY_MONITORING_EVENT_CALL:
            need = 1;
            /* arg0 omitted: NULL, which the API reports as MISSING */
            r = a == NULL ? 0 : PyMonitoring_FireCallEvent(state, code, offset, a, b);
            break;
        case PY_MONITORING_EVENT_LINE: {
            need = 1;
            int lineno = a == NULL ? 0 : _PyLong_AsInt(a);
            if (lineno == -1 && PyErr_Occurred()) {
                return NULL;
            }
            r = a == NULL ? 0 : PyMonitoring_FireLineEvent(state, code, offset, lineno);
            break;
        }
        case PY_MONITORING_EVENT_JUMP:
            need = 1;
            r = a == NULL ? 0 : PyMonitoring_FireJumpEvent(state, code, offset, a);
            break;
        case PY_MONITORING_EVENT_BRANCH_LEFT:
            need = 1;
            r = a == NULL ? 0 : PyMonitoring_FireBranchLeftEvent(state, code, offset, a);
            break;
        case PY_MONITORING_EVENT_BRANCH_RIGHT:
            need = 1;
            r = a == NULL ? 0 : PyMonitoring_FireBranchRightEvent(state, code, offset, a);
            break;
        case PY_MONITORING_EVENT_BRANCH:
            need = 1;
_Py_COMP_DIAG_PUSH
_Py_COMP_DIAG_IGNORE_DEPR_DECLS
            r = a == NULL ? 0 : PyMonitoring_FireBranchEvent(state, code, offset, a);
_Py_COMP_DIAG_POP
            break;
        case PY_MONITORING_EVENT_C_RETURN:
            need = 1;
            r = a == NULL ? 0 : PyMonitoring_FireCReturnEvent(state, code, offset, a);
            break;
        case PY_MONITORING_EVENT_STOP_ITERATION:
            need = 1;
            r = a == NULL ? 0 : PyMonitoring_FireStopIterationEvent(state, code, offset, a);
            break;
        case PY_MONITORING_EVENT_PY_THROW:
        case PY_MONITORING_EVENT_RAISE:
        case PY_MONITORING_EVENT_RERAISE:
        case PY_MONITORING_EVENT_EXCEPTION_HANDLED:
        case PY_MONITORING_EVENT_C_RAISE:
        case PY_MONITORING_EVENT_PY_UNWIND: {
            if (a == NULL || !PyExceptionInstance_Check(a)) {
                PyErr_SetString(PyExc_TypeError, "an exception instance is needed");
                return NULL;
            }
            int (*fire)(PyMonitoringState *, PyObject *, int32_t) =
                event == PY_MONITORING_EVENT_PY_THROW ? PyMonitoring_FirePyThrowEvent :
                event == PY_MONITORING_EVENT_RAISE ? PyMonitoring_FireRaiseEvent :
                event == PY_MONITORING_EVENT_RERAISE ? PyMonitoring_FireReraiseEvent :
                event == PY_MONITORING_EVENT_EXCEPTION_HANDLED ?
                    PyMonitoring_FireExceptionHandledEvent :
                event == PY_MONITORING_EVENT_C_RAISE ? PyMonitoring_FireCRaiseEvent :
                PyMonitoring_FirePyUnwindEvent;
            return fire_exc(fire, state, code, offset, a);
        }
        default:
            PyErr_Format(PyExc_ValueError, "no Fire function for event %d", event);
            return NULL;
    }
    if (need && a == NULL) {
        PyErr_SetString(PyExc_TypeError, "this event needs an argument");
        return NULL;
    }
    if (r < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef scope_methods[] = {
    {"enter", (PyCFunction)scope_enter, METH_NOARGS, NULL},
    {"exit", (PyCFunction)scope_exit, METH_NOARGS, NULL},
    {"active", (PyCFunction)scope_active, METH_O, NULL},
    {"fire", (PyCFunction)(void(*)(void))scope_fire, METH_FASTCALL, NULL},
    {NULL},
};

static PyMemberDef scope_members[] = {
    {"version", T_ULONGLONG, offsetof(ScopeObject, version), READONLY, NULL},
    {NULL},
};

static PyTypeObject Scope_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_testcapi.MonitoringScope",
    .tp_basicsize = sizeof(ScopeObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = scope_new,
    .tp_methods = scope_methods,
    .tp_members = scope_members,
};


/* Native callbacks ----------------------------------------------------------*/

static Py_ssize_t native_frees;     /* free_data calls, for lifetime tests */

typedef struct {
    PyObject *target;       /* list (recorder) or set (line coverage) */
    int result;             /* recorder: 0, PY_MONITORING_DISABLE, -1 (raise),
                               or UNREGISTER */
    int tool;
} native_data;

/* The recorder unregisters itself, then records: its data must stay valid
   until it returns. */
#define UNREGISTER 2

static void
native_free(void *p)
{
    native_data *d = (native_data *)p;
    Py_DECREF(d->target);
    PyMem_Free(d);
    native_frees++;
}

static PyObject *
or_none(PyObject *o)
{
    return o != NULL ? o : Py_None;
}

/* Append (event, code, offset, lineno, target_offset, arg, arg0). */
static int
native_record(const PyMonitoringEvent *ev, void *p)
{
    native_data *d = (native_data *)p;
    if (d->result == UNREGISTER &&
        PyMonitoring_RegisterNativeCallback(d->tool, ev->event, NULL, NULL, NULL) < 0) {
        return -1;
    }
    PyObject *item = Py_BuildValue("(iOiiiOO)", ev->event, or_none(ev->code),
                                   (int)ev->offset, ev->lineno, (int)ev->target_offset,
                                   or_none(ev->arg), or_none(ev->arg0));
    if (item == NULL) {
        return -1;
    }
    int err = PyList_Append(d->target, item);
    Py_DECREF(item);
    if (err < 0) {
        return -1;
    }
    if (d->result < 0) {
        PyErr_SetString(PyExc_RuntimeError, "native callback failed");
        return -1;
    }
    return d->result == UNREGISTER ? 0 : d->result;
}

/* A line-coverage tool: add the line number to a set. */
static int
native_line_set(const PyMonitoringEvent *ev, void *p)
{
    native_data *d = (native_data *)p;
    PyObject *line = PyLong_FromLong(ev->lineno);
    if (line == NULL) {
        return -1;
    }
    int err = PySet_Add(d->target, line);
    Py_DECREF(line);
    return err;
}

static PyObject *
register_native(PyMonitoring_NativeCallback func, int tool, int event,
                PyObject *target, int result)
{
    native_data *d = PyMem_Malloc(sizeof(*d));
    if (d == NULL) {
        return PyErr_NoMemory();
    }
    Py_INCREF(target);
    d->target = target;
    d->result = result;
    d->tool = tool;
    if (PyMonitoring_RegisterNativeCallback(tool, event, func, d, native_free) < 0) {
        /* still ours */
        Py_DECREF(target);
        PyMem_Free(d);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
monitoring_register_native_recorder(PyObject *mod, PyObject *args)
{
    int tool, event, result = 0;
    PyObject *list;
    if (!PyArg_ParseTuple(args, "iiO!|i", &tool, &event, &PyList_Type, &list, &result)) {
        return NULL;
    }
    return register_native(native_record, tool, event, list, result);
}

static PyObject *
monitoring_register_native_line_set(PyObject *mod, PyObject *args)
{
    int tool;
    PyObject *set;
    if (!PyArg_ParseTuple(args, "iO!", &tool, &PySet_Type, &set)) {
        return NULL;
    }
    return register_native(native_line_set, tool, PY_MONITORING_EVENT_LINE, set, 0);
}

static PyObject *
monitoring_unregister_native(PyObject *mod, PyObject *args)
{
    int tool, event;
    if (!PyArg_ParseTuple(args, "ii", &tool, &event)) {
        return NULL;
    }
    if (PyMonitoring_RegisterNativeCallback(tool, event, NULL, NULL, NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static int
native_never(const PyMonitoringEvent *ev, void *p)
{
    return 0;
}

/* Bad calls: unregistering with data must fail and leave data to the caller. */
static PyObject *
monitoring_register_native_bad(PyObject *mod, PyObject *args)
{
    int tool, event, with_data;
    if (!PyArg_ParseTuple(args, "iip", &tool, &event, &with_data)) {
        return NULL;
    }
    static int token;
    if (PyMonitoring_RegisterNativeCallback(tool, event, with_data ? NULL : native_never,
                                            with_data ? &token : NULL, NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
monitoring_native_frees(PyObject *mod, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(native_frees);
}

/* The workload of the line-coverage benchmark: an emulated function of n
   lines (one LINE event each, in a scope entered per call), called `calls`
   times. */
static PyObject *
monitoring_emulate_lines(PyObject *mod, PyObject *args)
{
    PyObject *code;
    int first, n, calls;
    if (!PyArg_ParseTuple(args, "Oiii", &code, &first, &n, &calls)) {
        return NULL;
    }
    static const uint8_t events[] = {PY_MONITORING_EVENT_LINE};
    static PyMonitoringState state[1];
    static uint64_t version;
    for (int c = 0; c < calls; c++) {
        if (PyMonitoring_EnterScope(state, &version, events, 1) < 0) {
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            if (PyMonitoring_FireLineEvent(&state[0], code, 2 * i, first + i) < 0) {
                return NULL;
            }
        }
        if (PyMonitoring_ExitScope() < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyMethodDef test_methods[] = {
    {"monitoring_register_native_recorder", monitoring_register_native_recorder,
     METH_VARARGS, NULL},
    {"monitoring_register_native_line_set", monitoring_register_native_line_set,
     METH_VARARGS, NULL},
    {"monitoring_unregister_native", monitoring_unregister_native, METH_VARARGS, NULL},
    {"monitoring_register_native_bad", monitoring_register_native_bad, METH_VARARGS, NULL},
    {"monitoring_native_frees", monitoring_native_frees, METH_NOARGS, NULL},
    {"monitoring_emulate_lines", monitoring_emulate_lines, METH_VARARGS, NULL},
    {NULL},
};

int
_PyTestCapi_Init_Monitoring(PyObject *module)
{
    if (PyType_Ready(&Scope_Type) < 0) {
        return -1;
    }
    Py_INCREF(&Scope_Type);
    if (PyModule_AddObject(module, "MonitoringScope", (PyObject *)&Scope_Type) < 0) {
        Py_DECREF(&Scope_Type);
        return -1;
    }
    return PyModule_AddFunctions(module, test_methods);
}
