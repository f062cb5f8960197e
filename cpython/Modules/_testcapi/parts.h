#ifndef Py_TESTCAPI_PARTS_H
#define Py_TESTCAPI_PARTS_H

/* The parts of _testcapi that live in Modules/_testcapi/ (as in CPython
   3.12): each has an init function called from PyInit__testcapi(). */

#include "Python.h"

int _PyTestCapi_Init_Monitoring(PyObject *module);

#endif // Py_TESTCAPI_PARTS_H
