// The part of jasmine-core's boot module the GJS runner uses (esbuild aliases the import
// to lib/jasmine-core/jasmine.js; see build-aux/esbuild.mjs).
declare module "jasmine-core" {
  export interface SpecResult {
    fullName: string;
    status: string;
    failedExpectations: { message: string; stack?: string }[];
  }
  interface Env {
    addReporter(reporter: { specDone?(r: SpecResult): void; suiteDone?(r: SpecResult): void }): void;
    configure(config: { random?: boolean }): void;
    execute(): Promise<{
      overallStatus: string;
      incompleteReason?: string;
      failedExpectations?: { message: string }[];
    }>;
  }
  const boot: { installGlobals(): void; jasmine: { getEnv(): Env; DEFAULT_TIMEOUT_INTERVAL: number } };
  export default boot;
}
