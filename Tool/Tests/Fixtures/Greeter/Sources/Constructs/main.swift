// Built with -warnings-as-errors: weaving must not add a single warning, or the module would fall back.
let fetcher = Fetcher()
// A top-level `let` runs as code: the entry point's bootstrap must come before it, or its span is lost.
let start = try await fetcher.fetch(1)
print(start ?? -1)
print(try await conditions(fetcher))
print(try await closures(fetcher))
print(try await concurrently(fetcher))
print(try await unobserved(fetcher) ?? -1)
print(whereAmI())
try await runSignatures()
