// A demangled C++ name cut to what a person reads in a sentence or a flame graph: the
// qualified function name without its parameters, template arguments, cv-qualifiers or
// return type ("std::vector<int, std::allocator<int> >::push_back(int const&)" ->
// "std::vector::push_back"), as pprof's "simplified" demangling does. Overloads and template
// instances fall together under one name, which is what a profile's top functions want.

const OPERATOR = 'operator';
const ANONYMOUS = '(anonymous namespace)';
/** Characters an operator's symbol is made of (operator<<=, operator->*, operator,). */
const OPERATOR_CHARS = new Set('+-*/%^&|~!=<>,'.split(''));

/** Skips a bracketed group starting at `at` (d[at] is open); the index after its close. */
function skipGroup(d: string, at: number, open: string, close: string): number {
  let depth = 0;
  for (let i = at; i < d.length; i++) {
    if (d[i] === open) depth++;
    else if (d[i] === close && --depth === 0) return i + 1;
  }
  return d.length;
}

const isIdent = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_$]/.test(c);

export function shortCxxName(demangled: string): string {
  const d = demangled;
  let out = '';
  /** Where the name starts in out: after the last top-level space (a return type before it). */
  let nameAt = 0;
  let afterOperator = false;
  for (let i = 0; i < d.length;) {
    const c = d[i];
    if (d.startsWith(OPERATOR, i) && !isIdent(d[i - 1]) && !isIdent(d[i + OPERATOR.length])) {
      // operator<<, operator(), operator[], operator new[], operator int: the symbol is part of the name.
      out += OPERATOR;
      i += OPERATOR.length;
      if (d.startsWith('()', i) || d.startsWith('[]', i)) { out += d.slice(i, i + 2); i += 2; }
      else while (i < d.length && OPERATOR_CHARS.has(d[i])) out += d[i++];
      afterOperator = true;
      continue;
    }
    if (d.startsWith(ANONYMOUS, i)) { out += ANONYMOUS; i += ANONYMOUS.length; continue; }
    if (c === '{') { const end = skipGroup(d, i, '{', '}'); out += d.slice(i, end); i = end; continue; } // {lambda(int)#1}
    if (c === '<') { i = skipGroup(d, i, '<', '>'); continue; }
    if (c === '(') {
      i = skipGroup(d, i, '(', ')');
      // A function's parameters end its name unless a nested name follows (local entities).
      if (!d.startsWith('::', i)) break;
      continue;
    }
    if (c === ' ' && !afterOperator) {
      if (d.startsWith('[', i + 1)) { i++; continue; } // "operator new []" spelled with a space
      nameAt = out.length + 1;
    }
    out += c;
    i++;
  }
  return out.slice(nameAt).trim() || demangled;
}
