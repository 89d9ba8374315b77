/**
 * `holdfast/testing`: the conformance kit. Any transport + server pair runs it from its
 * own test runner (it returns results or throws; it imports no runner): the transport
 * contract's duties, fault scenarios through the server's own hooks, and paths generated
 * from the connection machine with `xstate/graph`, all checked against the invariants
 * holdfast checks itself. docs/testing-kit.md says how.
 */
export { assertConformance, ConformanceError } from './findings.js';
export { conformanceCases, runConformance } from './run.js';
export type {
  CaseKind,
  CaseResult,
  ConformanceCase,
  ConformanceOptions,
  ConformanceReport,
  OptionalHook,
  ReceivedMessage,
  ServerHooks,
  Violation,
} from './types.js';
