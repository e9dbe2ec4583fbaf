/* Defines std::ios_base_library_init() (GCC 13's libstdc++, symbol version GLIBCXX_3.4.32) as a no-op, for
 * systems whose libstdc++ is older (Debian 12: GCC 12). TorchSharp 0.107's native shim references it only
 * through iostream initialisation, which the older libstdc++ performs by itself. */
void _ZSt21ios_base_library_initv(void) {}
