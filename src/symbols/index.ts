// The symbols layer: program counters -> names, shared by the analysis worker and commands.
// Imports only from src/model.

export { ProcessMaps, type Mapping, type FileMapping } from './process-maps';
export { Symbolizer, type SymbolizerOptions } from './symbolizer';
export { UNNAMED, type SourceSymbol, type SourceSymbol as Symbol } from './source-symbol';
export { KernelSymbols } from './kernel-symbols';
export { PerfMap } from './perf-map';
export { GoLineTable, type GoTableVersion } from './go-line-table';
export { ElfSymbolTable } from './elf-symbol-table';
export { ElfFile } from './elf-file';
export { BinarySymbols } from './binary-symbols';
export { shortCxxName } from './cxx-name';
