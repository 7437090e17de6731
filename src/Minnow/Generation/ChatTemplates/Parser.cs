namespace Minnow.Generation.ChatTemplates;

/// <summary>
/// Builds the syntax tree from tokens, following Jinja2's grammar and operator precedence. Unknown tags, filters and tests
/// and the Jinja features Minnow leaves out (extends, include, import, block…) are reported here, with their position.
/// </summary>
internal sealed partial class Parser
{
    private const int MaxNesting = 100;

    private static readonly HashSet<string> UnsupportedTags = ["extends", "include", "import", "from", "block", "autoescape"];

    private readonly List<Token> _tokens;
    private int _index;
    private int _nesting;
    private int _loopDepth;

    private Parser(List<Token> tokens) => _tokens = tokens;

    public static List<Stmt> Parse(string normalizedSource)
    {
        var parser = new Parser(Lexer.Tokenize(normalizedSource));
        var body = parser.Subparse([]);
        if (parser.Current.Kind != TokenKind.Eof)
            throw parser.Error($"unexpected '{parser.Current.Text}'");
        return body;
    }

    private Token Current => _tokens[_index];
    private Token Peek => _tokens[Math.Min(_index + 1, _tokens.Count - 1)];
    private Token Advance() => _tokens[_index++];

    private TemplateError Error(string message, int? offset = null) =>
        TemplateError.At(offset ?? Current.Offset, ChatTemplateErrorKind.Syntax, message);

    private static string Describe(Token t) => t.Kind switch
    {
        TokenKind.Eof => "end of template",
        TokenKind.BlockEnd => "end of statement block",
        TokenKind.VariableEnd => "end of print statement",
        TokenKind.Data => "template data",
        _ => $"'{t.Text}'",
    };

    private Token Expect(TokenKind kind)
    {
        if (Current.Kind != kind)
            throw Error($"expected {kind switch { TokenKind.Name => "a name", TokenKind.BlockEnd => "end of statement block", TokenKind.VariableEnd => "end of print statement", _ => kind.ToString() }}, got {Describe(Current)}");
        return Advance();
    }

    private void ExpectOperator(string op)
    {
        if (!Current.IsOperator(op))
            throw Error($"expected '{op}', got {Describe(Current)}");
        Advance();
    }

    private void ExpectName(string name)
    {
        if (!Current.IsName(name))
            throw Error($"expected '{name}', got {Describe(Current)}");
        Advance();
    }

    private bool SkipOperator(string op)
    {
        if (!Current.IsOperator(op))
            return false;
        Advance();
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Current.IsName(name))
            return false;
        Advance();
        return true;
    }

    private void Enter(int offset)
    {
        if (++_nesting > MaxNesting)
            throw TemplateError.At(offset, ChatTemplateErrorKind.LimitExceeded, $"the template nests deeper than {MaxNesting} levels");
    }

    private void Leave() => _nesting--;

    /// <summary>Statements up to a block tag whose name is in <paramref name="endNames"/> (left as the current token) or the end of the template.</summary>
    private List<Stmt> Subparse(string[] endNames)
    {
        var body = new List<Stmt>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.Eof:
                    return body;
                case TokenKind.Data:
                    Advance();
                    body.Add(new TextStmt(token.Offset, token.Text));
                    break;
                case TokenKind.VariableBegin:
                    Advance();
                    body.Add(new OutputStmt(token.Offset, ParseTuple(withCondExpr: true)));
                    Expect(TokenKind.VariableEnd);
                    break;
                case TokenKind.BlockBegin:
                    Advance();
                    if (Current.Kind == TokenKind.Name && Array.IndexOf(endNames, Current.Text) >= 0)
                        return body;
                    body.Add(ParseStatement());
                    Expect(TokenKind.BlockEnd);
                    break;
                default:
                    throw Error($"unexpected {Describe(token)}");
            }
        }
    }

    /// <summary>The body of a block statement: ends the opening tag, parses up to one of <paramref name="endNames"/> and leaves that name current.</summary>
    private List<Stmt> ParseBody(int openedAt, string tag, params string[] endNames)
    {
        SkipOperator(":");
        Expect(TokenKind.BlockEnd);
        Enter(openedAt);
        var body = Subparse(endNames);
        Leave();
        if (Current.Kind == TokenKind.Eof)
            throw Error($"unexpected end of template: the '{tag}' tag opened here is never closed with '{endNames[^1]}'", openedAt);
        return body;
    }

    private Stmt ParseStatement()
    {
        var token = Current;
        if (token.Kind != TokenKind.Name)
            throw Error("tag name expected");
        int at = token.Offset;
        switch (token.Text)
        {
            case "if": Advance(); return ParseIf(at);
            case "for": Advance(); return ParseFor(at);
            case "set": Advance(); return ParseSet(at);
            case "macro": Advance(); return ParseMacro(at);
            case "call": Advance(); return ParseCallBlock(at);
            case "filter": Advance(); return ParseFilterBlock(at);
            case "with": Advance(); return ParseWith(at);
            case "print":
                Advance();
                return ParsePrint(at);
            case "generation":
                Advance();
                var generated = ParseBody(at, "generation", "endgeneration");
                Advance();
                return new ScopeStmt(at, [], generated);
            case "break" or "continue":
                if (_loopDepth == 0)
                    throw Error($"'{token.Text}' outside a for loop");
                Advance();
                return new LoopControlStmt(at, token.Text == "break");
        }
        if (UnsupportedTags.Contains(token.Text))
            throw TemplateError.At(at, ChatTemplateErrorKind.Unsupported, $"the '{token.Text}' tag is not supported in chat templates");
        throw Error(token.Text.StartsWith("end", StringComparison.Ordinal)
            ? $"unexpected '{token.Text}': no open block to close"
            : $"unknown tag '{token.Text}'");
    }

    /// <summary><c>{% print a, b %}</c> prints each expression in turn.</summary>
    private ScopeStmt ParsePrint(int at)
    {
        var outputs = new List<Stmt>();
        while (Current.Kind != TokenKind.BlockEnd)
        {
            if (outputs.Count > 0)
                ExpectOperator(",");
            outputs.Add(new OutputStmt(Current.Offset, ParseExpression(withCondExpr: true)));
        }
        return new ScopeStmt(at, [], outputs);
    }

    private IfStmt ParseIf(int at)
    {
        var branches = new List<(Expr, List<Stmt>)>();
        var test = ParseTuple(withCondExpr: false);
        while (true)
        {
            var body = ParseBody(at, "if", "elif", "else", "endif");
            branches.Add((test, body));
            string name = Advance().Text;
            if (name == "elif")
            {
                test = ParseTuple(withCondExpr: false);
                continue;
            }
            List<Stmt> otherwise = [];
            if (name == "else")
            {
                otherwise = ParseBody(at, "if", "endif");
                Advance();
            }
            return new IfStmt(at, branches, otherwise);
        }
    }

    private ForStmt ParseFor(int at)
    {
        var target = ParseAssignTarget(extraEnd: "in");
        ExpectName("in");
        var iterable = ParseTuple(withCondExpr: false, extraEnd: "recursive");
        Expr? filter = SkipName("if") ? ParseExpression(withCondExpr: true) : null;
        bool recursive = SkipName("recursive");
        _loopDepth++;
        var body = ParseBody(at, "for", "endfor", "else");
        _loopDepth--;
        List<Stmt> otherwise = [];
        if (Advance().Text == "else")
        {
            otherwise = ParseBody(at, "for", "endfor");
            Advance();
        }
        return new ForStmt(at, target, iterable, filter, recursive, body, otherwise);
    }

    private Stmt ParseSet(int at)
    {
        Target target;
        if (Current.Kind == TokenKind.Name && Peek.IsOperator("."))
        {
            string ns = Advance().Text;
            Advance();
            target = new NamespaceTarget(ns, Expect(TokenKind.Name).Text);
        }
        else
            target = ParseAssignTarget(extraEnd: null);
        if (SkipOperator("="))
            return new SetStmt(at, target, ParseTuple(withCondExpr: true));
        var filter = Current.IsOperator("|") ? ParseFilter(null) : null;
        var body = ParseBody(at, "set", "endset");
        Advance();
        return new SetBlockStmt(at, target, filter, body);
    }

    private MacroStmt ParseMacro(int at)
    {
        string name = Expect(TokenKind.Name).Text;
        var parameters = ParseSignature();
        int loops = _loopDepth;
        _loopDepth = 0; // break/continue cannot cross a macro boundary
        int bodyStart = _index;
        var body = ParseBody(at, "macro", "endmacro");
        _loopDepth = loops;
        var signature = Signature(name, parameters, bodyStart);
        Advance();
        return new MacroStmt(at, signature, body);
    }

    private MacroSignature Signature(string name, List<Parameter> parameters, int bodyStart)
    {
        bool Mentions(string variable)
        {
            for (int i = bodyStart; i < _index; i++)
                if (_tokens[i].IsName(variable))
                    return true;
            return false;
        }
        return new MacroSignature(name, parameters, Mentions("varargs"), Mentions("kwargs"), Mentions("caller"));
    }

    private List<Parameter> ParseSignature()
    {
        var parameters = new List<Parameter>();
        ExpectOperator("(");
        while (!Current.IsOperator(")"))
        {
            if (parameters.Count > 0)
                ExpectOperator(",");
            string name = Expect(TokenKind.Name).Text;
            Expr? fallback = SkipOperator("=") ? ParseExpression(withCondExpr: true) : null;
            if (fallback is null && parameters.Count > 0 && parameters[^1].Default is not null)
                throw Error("non-default argument follows default argument");
            parameters.Add(new Parameter(name, fallback));
        }
        Advance();
        return parameters;
    }

    private CallBlockStmt ParseCallBlock(int at)
    {
        var parameters = Current.IsOperator("(") ? ParseSignature() : [];
        if (ParseExpression(withCondExpr: true) is not CallExpr call)
            throw Error("expected a macro call after 'call'", at);
        int loops = _loopDepth;
        _loopDepth = 0;
        int bodyStart = _index;
        var body = ParseBody(at, "call", "endcall");
        _loopDepth = loops;
        var caller = Signature("caller", parameters, bodyStart);
        Advance();
        return new CallBlockStmt(at, call, caller, body);
    }

    private FilterBlockStmt ParseFilterBlock(int at)
    {
        var filter = ParseFilter(null, startInline: true);
        var body = ParseBody(at, "filter", "endfilter");
        Advance();
        return new FilterBlockStmt(at, filter, body);
    }

    private ScopeStmt ParseWith(int at)
    {
        var assignments = new List<(Target, Expr)>();
        while (Current.Kind != TokenKind.BlockEnd)
        {
            if (assignments.Count > 0)
                ExpectOperator(",");
            var target = ParseAssignTarget(extraEnd: null);
            ExpectOperator("=");
            assignments.Add((target, ParseExpression(withCondExpr: true)));
        }
        var body = ParseBody(at, "with", "endwith");
        Advance();
        return new ScopeStmt(at, assignments, body);
    }

    /// <summary>A name or a tuple of names (<c>key, value</c>), as <c>for</c>, <c>set</c> and <c>with</c> accept.</summary>
    private Target ParseAssignTarget(string? extraEnd)
    {
        var items = new List<Target>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0)
                ExpectOperator(",");
            if (IsTupleEnd(extraEnd) || Current.IsOperator("="))
                break;
            if (SkipOperator("("))
            {
                items.Add(ParseAssignTarget(extraEnd: null));
                ExpectOperator(")");
            }
            else
            {
                var name = Expect(TokenKind.Name);
                if (name.Text is "true" or "false" or "none" or "True" or "False" or "None")
                    throw Error($"cannot assign to '{name.Text}'", name.Offset);
                items.Add(new NameTarget(name.Text));
            }
            if (!Current.IsOperator(","))
                break;
            isTuple = true;
        }
        if (items.Count == 0)
            throw Error($"expected an assignment target, got {Describe(Current)}");
        return isTuple ? new TupleTarget(items) : items[0];
    }
}
