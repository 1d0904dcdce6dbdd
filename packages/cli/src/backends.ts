/**
 * The backends the CLI can run, by name. A backend that cannot start says why in one line.
 * @module
 */
import { ParamError, type Backend } from "@qoq/core";
import { createReferenceBackend } from "@qoq/reference";

/** Factories of the backends this build knows, by name. */
export const BACKEND_FACTORIES: Readonly<Record<string, () => Promise<Backend>>> = {
  reference: () => Promise.resolve(createReferenceBackend()),
};

/** Start the named backend, or throw a {@link ParamError} listing the known ones. */
export async function openBackend(name: string): Promise<Backend> {
  const factory = BACKEND_FACTORIES[name];
  if (factory === undefined) throw new ParamError(`unknown backend '${name}'; available: ${Object.keys(BACKEND_FACTORIES).join(", ")}`);
  return factory();
}
