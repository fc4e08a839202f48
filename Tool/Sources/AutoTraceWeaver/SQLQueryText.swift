import SwiftSyntax

/// What a database span may say of a query written as a string literal, worked out while weaving: the SQL with its
/// interpolations as PostgresNIO binds them (`$1`, `$2`, …) and every literal value replaced by `?`, its operation
/// and its table. Bind values and literals never reach a span, and nothing is left to compute at run time.
struct SQLQueryText: Equatable {
    /// The query without literals, comments or runs of whitespace.
    var text: String
    /// The first keyword, upper-cased: `SELECT`, `INSERT`, …
    var operation: String?
    /// The table a single-table statement reads or writes.
    var collection: String?

    /// `SELECT visits`, `SELECT`, or empty: the span name OpenTelemetry's database conventions give.
    var summary: String { [operation, collection].compactMap { $0 }.joined(separator: " ") }

    /// The query a call passes as this string literal (nil for any other expression, known only at run time).
    init?(argument: ExprSyntax) {
        guard let literal = argument.as(StringLiteralExprSyntax.self) else { return nil }
        var sql = ""
        var binds = 0
        for segment in literal.segments {
            switch segment {
            case .stringSegment(let piece):
                sql += literal.openingPounds == nil ? Self.unescaped(piece.content.text) : piece.content.text
            case .expressionSegment(let interpolation):
                // `\(value)` is a bind; a labelled one (`\(unescaped: text)`) puts text of unknown content inline.
                if interpolation.expressions.count == 1, interpolation.expressions.first?.label == nil {
                    binds += 1
                    sql += "$\(binds)"
                } else {
                    sql += "?"
                }
            }
        }
        self.init(sql: sql)
    }

    init(sql: String) {
        text = Self.withoutLiterals(sql)
        let words = Self.words(text)
        operation = words.first.flatMap { $0.first?.isLetter == true ? $0.uppercased() : nil }
        let tableKeyword: String? =
            switch operation {
            case "SELECT", "DELETE": "FROM"
            case "INSERT": "INTO"
            case "UPDATE": "UPDATE"
            case "CREATE", "DROP", "ALTER", "TRUNCATE": "TABLE"
            default: nil
            }
        if let tableKeyword, let index = words.firstIndex(where: { $0.uppercased() == tableKeyword }) {
            // `CREATE TABLE IF NOT EXISTS notes`: the name after the condition.
            let table = words[(index + 1)...].first { !["IF", "NOT", "EXISTS", "ONLY"].contains($0.uppercased()) }
            collection = table.flatMap { $0.first.map { $0.isLetter || $0 == "_" || $0 == "\"" } == true ? $0 : nil }
        }
    }

    /// Swift's escapes in a literal's source text, as far as SQL cares.
    private static func unescaped(_ source: String) -> String {
        var result = ""
        var characters = source.makeIterator()
        while let character = characters.next() {
            guard character == "\\" else {
                result.append(character)
                continue
            }
            switch characters.next() {
            case "n", "t", "r": result.append(" ")
            case "\n", nil: break  // a multi-line literal's line continuation
            case let escaped?: result.append(escaped)
            }
        }
        return result
    }

    /// SQL with string, dollar-quoted and numeric literals as `?`, comments dropped and whitespace collapsed.
    /// Quoted identifiers and `$n` parameters stay.
    static func withoutLiterals(_ sql: String) -> String {
        let characters = Array(sql)
        var output: [Character] = []
        var index = 0
        func isIdentifier(_ character: Character?) -> Bool {
            guard let character else { return false }
            return character.isLetter || character.isNumber || character == "_" || character == "$"
        }
        // `$tag$` or `$$` opening a dollar-quoted string at `start` (`$1` is a parameter).
        func dollarQuoteTag(at start: Int) -> ArraySlice<Character>? {
            var end = start + 1
            if end < characters.count && characters[end].isNumber { return nil }
            while end < characters.count
                && (characters[end].isLetter || characters[end].isNumber || characters[end] == "_")
            { end += 1 }
            guard end < characters.count && characters[end] == "$" else { return nil }
            return characters[start...end]
        }
        func appendSpace() {
            if let last = output.last, last != " " { output.append(" ") }
        }
        while index < characters.count {
            let character = characters[index]
            let next = index + 1 < characters.count ? characters[index + 1] : nil
            if character == "'" {
                // E'…' (backslash escapes), B'…', X'…', N'…': the prefix letter is part of the literal.
                var backslashes = false
                if let last = output.last, "EeBbXxNn".contains(last), !isIdentifier(output.dropLast().last) {
                    backslashes = last == "E" || last == "e"
                    output.removeLast()
                }
                index += 1
                while index < characters.count {
                    if backslashes && characters[index] == "\\" {
                        index += 2
                    } else if characters[index] == "'" {
                        if index + 1 < characters.count && characters[index + 1] == "'" {
                            index += 2
                        } else {
                            index += 1
                            break
                        }
                    } else {
                        index += 1
                    }
                }
                output.append("?")
            } else if character == "\"" {
                // A quoted identifier: a name, not a value.
                output.append(character)
                index += 1
                while index < characters.count {
                    output.append(characters[index])
                    index += 1
                    if output.last == "\"" { break }
                }
            } else if character == "-" && next == "-" {
                while index < characters.count && characters[index] != "\n" { index += 1 }
                appendSpace()
            } else if character == "/" && next == "*" {
                var depth = 0
                while index < characters.count {
                    if characters[index] == "/" && index + 1 < characters.count && characters[index + 1] == "*" {
                        depth += 1
                        index += 2
                    } else if characters[index] == "*" && index + 1 < characters.count && characters[index + 1] == "/" {
                        depth -= 1
                        index += 2
                        if depth == 0 { break }
                    } else {
                        index += 1
                    }
                }
                appendSpace()
            } else if character == "$" && !isIdentifier(output.last), let tag = dollarQuoteTag(at: index) {
                // $$…$$ or $tag$…$tag$: a dollar-quoted string.
                var close = index + tag.count
                while close < characters.count && !characters[close...].starts(with: tag) { close += 1 }
                index = min(characters.count, close + tag.count)
                output.append("?")
            } else if character.isNumber && !isIdentifier(output.last) {
                while index < characters.count
                    && (characters[index].isNumber || characters[index] == "." || characters[index] == "_")
                {
                    index += 1
                }
                if index < characters.count, "eE".contains(characters[index]) {
                    index += 1
                    if index < characters.count, "+-".contains(characters[index]) { index += 1 }
                    while index < characters.count && characters[index].isNumber { index += 1 }
                }
                output.append("?")
            } else if character.isWhitespace {
                appendSpace()
                index += 1
            } else {
                output.append(character)
                index += 1
            }
        }
        if output.last == " " { output.removeLast() }
        return String(output)
    }

    /// Identifiers (dotted, quoted) and single punctuation characters, in order.
    private static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var quoted = false
        for character in text {
            if quoted {
                current.append(character)
                if character == "\"" { quoted = false }
            } else if character == "\"" {
                current.append(character)
                quoted = true
            } else if character.isLetter || character.isNumber || character == "_" || character == "."
                || character == "$"
            {
                current.append(character)
            } else {
                if !current.isEmpty { words.append(current) }
                current = ""
                if !character.isWhitespace { words.append(String(character)) }
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }
}
