/* An extension module built out of tree, against an installed fork, the way
   a user builds one (python3.11-config), that emulates a compiled function
   with sys.monitoring's C API, as Cython-generated code would.

   capi_ext.emulated(callable, x) behaves like this Python function, which it
   reports as the code object capi_ext.code (made by PyCode_NewEmpty(), as
   Cython does), at the offsets and lines shown:

       line 1  def emulated(callable, x):          PY_START      offset 0
       line 2      y = callable(x)                 LINE 2, CALL  offset 2, 4
       line 3      return y + 1                    LINE 3        offset 6
                                                   PY_RETURN     offset 8

   An exception raised by callable is reported as RAISE then PY_UNWIND at
   offset 4, and propagates. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

enum { EV_START, EV_LINE, EV_CALL, EV_RETURN, EV_RAISE, EV_UNWIND, N_EVENTS };
static const uint8_t event_ids[N_EVENTS] = {
    PY_MONITORING_EVENT_PY_START, PY_MONITORING_EVENT_LINE, PY_MONITORING_EVENT_CALL,
    PY_MONITORING_EVENT_PY_RETURN, PY_MONITORING_EVENT_RAISE, PY_MONITORING_EVENT_PY_UNWIND,
};
static PyMonitoringState states[N_EVENTS];
static uint64_t version;
static PyObject *code;      /* the emulated function's code object */

static PyObject *
unwind(void)
{
    /* The exception is set: report it, then leave. */
    if (PyMonitoring_FireRaiseEvent(&states[EV_RAISE], code, 4) == 0) {
        (void)PyMonitoring_FirePyUnwindEvent(&states[EV_UNWIND], code, 4);
    }
    PyMonitoring_ExitScope();
    return NULL;
}

static PyObject *
emulated(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "emulated(callable, x)");
        return NULL;
    }
    if (PyMonitoring_EnterScope(states, &version, event_ids, N_EVENTS) < 0) {
        return NULL;
    }
    if (PyMonitoring_FirePyStartEvent(&states[EV_START], code, 0) < 0 ||
        PyMonitoring_FireLineEvent(&states[EV_LINE], code, 2, 2) < 0 ||
        PyMonitoring_FireCallEvent(&states[EV_CALL], code, 4, args[0], args[1]) < 0) {
        return unwind();
    }
    PyObject *y = PyObject_CallOneArg(args[0], args[1]);
    if (y == NULL) {
        return unwind();
    }
    if (PyMonitoring_FireLineEvent(&states[EV_LINE], code, 6, 3) < 0) {
        Py_DECREF(y);
        return unwind();
    }
    PyObject *one = PyLong_FromLong(1);
    PyObject *result = one == NULL ? NULL : PyNumber_Add(y, one);
    Py_XDECREF(one);
    Py_DECREF(y);
    if (result == NULL) {
        return unwind();
    }
    if (PyMonitoring_FirePyReturnEvent(&states[EV_RETURN], code, 8, result) < 0) {
        Py_DECREF(result);
        return unwind();
    }
    PyMonitoring_ExitScope();
    return result;
}

static PyMethodDef methods[] = {
    {"emulated", (PyCFunction)(void (*)(void))emulated, METH_FASTCALL,
     "emulated(callable, x): callable(x) + 1, reported to sys.monitoring"},
    {NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "capi_ext", NULL, -1, methods,
};

PyMODINIT_FUNC
PyInit_capi_ext(void)
{
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) {
        return NULL;
    }
    if (code == NULL) {
        code = (PyObject *)PyCode_NewEmpty("capi_ext_emulated.py", "emulated", 1);
        if (code == NULL) {
            Py_DECREF(m);
            return NULL;
        }
    }
    if (PyModule_AddObjectRef(m, "code", code) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
