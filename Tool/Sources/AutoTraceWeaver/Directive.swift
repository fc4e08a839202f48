import SwiftSyntax

/// `// autotrace:span [name=...] [kind=...]` and `// autotrace:ignore` comments.
struct Directive: Equatable {
    enum Action: Equatable {
        case span
        case ignore
    }

    var action: Action
    var options: [String: String]

    /// Parses one comment's text, e.g. `// autotrace:span name="GET /users" kind=server`; nil if it is no directive.
    init?(comment: String) {
        var text = Substring(comment)
        guard text.hasPrefix("//") else { return nil }
        text = text.dropFirst(2).drop { $0 == " " }
        guard text.hasPrefix("autotrace:") else { return nil }
        text = text.dropFirst("autotrace:".count)
        let word = text.prefix { $0.isLetter }
        switch word {
        case "span": action = .span
        case "ignore": action = .ignore
        default: return nil
        }
        options = Self.parseOptions(text.dropFirst(word.count))
    }

    /// `key=value` or `key="value with spaces"`, separated by spaces.
    private static func parseOptions(_ text: Substring) -> [String: String] {
        var options: [String: String] = [:]
        var rest = text.drop { $0 == " " }
        while let equals = rest.firstIndex(of: "=") {
            let key = String(rest[..<equals]).trimmingCharacters(in: " ")
            var value = rest[rest.index(after: equals)...]
            if value.hasPrefix("\"") {
                value = value.dropFirst()
                let close = value.firstIndex(of: "\"") ?? value.endIndex
                options[key] = String(value[..<close])
                rest = value[close...].dropFirst()
            } else {
                let end = value.firstIndex(of: " ") ?? value.endIndex
                options[key] = String(value[..<end])
                rest = value[end...]
            }
            rest = rest.drop { $0 == " " }
        }
        return options
    }

    /// The directives in a declaration's leading comments.
    static func all(in trivia: Trivia) -> [Directive] {
        trivia.compactMap { piece in
            if case .lineComment(let text) = piece { return Directive(comment: text) }
            return nil
        }
    }

    /// A file is ignored by `// autotrace:ignore` in its first comments, separated from the first declaration by
    /// a blank line (otherwise the directive belongs to that declaration).
    static func ignoresFile(_ tree: SourceFileSyntax) -> Bool {
        guard let first = tree.firstToken(viewMode: .sourceAccurate) else { return false }
        var sawIgnore = false
        for piece in first.leadingTrivia {
            switch piece {
            case .lineComment(let text):
                if Directive(comment: text)?.action == .ignore { sawIgnore = true }
            case .newlines(let count) where count >= 2:
                if sawIgnore { return true }
            default:
                break
            }
        }
        return false
    }
}

extension String {
    func trimmingCharacters(in character: Character) -> String {
        String(drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}

/// Shell-style glob: `*` any run, `?` one character.
func globMatches(_ pattern: String, _ text: String) -> Bool {
    let pattern = Array(pattern)
    let text = Array(text)
    var memo = [[Bool?]](repeating: [Bool?](repeating: nil, count: text.count + 1), count: pattern.count + 1)
    func match(_ p: Int, _ t: Int) -> Bool {
        if let known = memo[p][t] { return known }
        let result: Bool
        if p == pattern.count {
            result = t == text.count
        } else if pattern[p] == "*" {
            result = match(p + 1, t) || (t < text.count && match(p, t + 1))
        } else {
            result = t < text.count && (pattern[p] == "?" || pattern[p] == text[t]) && match(p + 1, t + 1)
        }
        memo[p][t] = result
        return result
    }
    return match(0, 0)
}
