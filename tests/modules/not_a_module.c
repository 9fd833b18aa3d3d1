/* A shared library that is not a junction module: it exports neither
 * jn_module_abi_version nor jn_module_init. */
int not_a_module_answer(void);
int not_a_module_answer(void) { return 42; }
