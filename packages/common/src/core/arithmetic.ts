// The arithmetic operators that the lab's expression languages share (PromQL in monitoring, the
// `where` language in transactions): each checks its own operand types and errors, then applies
// the operator here, so the operator table lives in one place.

/** `+ - * / %` on numbers, with JavaScript's IEEE-754 results (x / 0 is ±Infinity or NaN). */
export type ArithmeticOperator = '+' | '-' | '*' | '/' | '%';

const OPERATORS: ReadonlySet<string> = new Set<ArithmeticOperator>(['+', '-', '*', '/', '%']);

/** True if `op` is one of the shared arithmetic operators. */
export function isArithmeticOperator(op: string): op is ArithmeticOperator {
  return OPERATORS.has(op);
}

/** Applies `op` to two numbers. */
export function applyArithmetic(op: ArithmeticOperator, l: number, r: number): number {
  switch (op) {
    case '+':
      return l + r;
    case '-':
      return l - r;
    case '*':
      return l * r;
    case '/':
      return l / r;
    case '%':
      return l % r;
  }
}
