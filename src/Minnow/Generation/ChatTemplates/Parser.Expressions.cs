namespace Minnow.Generation.ChatTemplates;

/// <summary>
/// Expressions, loosest binding first, as in Jinja2: conditional, or, and, not, comparisons (in, not in), + -, ~, * / // %, **,
/// unary - +, then postfix (.attr, [item], calls), filters (|) and tests (is). Filters bind tighter than arithmetic:
/// <c>'a' + x | trim</c> trims only x.
/// </summary>
internal sealed partial class Parser
{
    private bool IsTupleEnd(string? extraEnd) =>
        Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd or TokenKind.Eof
        || Current.IsOperator(")")
        || (extraEnd is not null && Current.IsName(extraEnd));

    /// <summary>An expression, or a tuple when commas separate several (<c>{{ a, b }}</c>, <c>{% set x = 1, 2 %}</c>).</summary>
    private Expr ParseTuple(bool withCondExpr, string? extraEnd = null, bool explicitParentheses = false)
    {
        int at = Current.Offset;
        var items = new List<Expr>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0)
                ExpectOperator(",");
            if (IsTupleEnd(extraEnd))
                break;
            items.Add(ParseExpression(withCondExpr));
            if (!Current.IsOperator(","))
                break;
            isTuple = true;
        }
        if (!isTuple)
        {
            if (items.Count > 0)
                return items[0];
            if (!explicitParentheses)
                throw Error($"expected an expression, got {Describe(Current)}");
        }
        return new TupleExpr(at, items);
    }

    private Expr ParseExpression(bool withCondExpr) => withCondExpr ? ParseCondExpr() : ParseOr();

    private Expr ParseCondExpr()
    {
        int at = Current.Offset;
        var expr = ParseOr();
        while (SkipName("if"))
        {
            var test = ParseOr();
            var otherwise = SkipName("else") ? ParseCondExpr() : null;
            expr = new CondExpr(at, test, expr, otherwise);
        }
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
            left = new BinaryExpr(Advance().Offset, "or", left, ParseAnd());
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
            left = new BinaryExpr(Advance().Offset, "and", left, ParseNot());
        return left;
    }

    private Expr ParseNot()
    {
        if (!Current.IsName("not"))
            return ParseCompare();
        int at = Advance().Offset;
        Enter(at);
        var operand = ParseNot();
        Leave();
        return new UnaryExpr(at, "not", operand);
    }

    private static readonly HashSet<string> ComparisonOperators = ["==", "!=", "<", "<=", ">", ">="];

    private Expr ParseCompare()
    {
        int at = Current.Offset;
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && ComparisonOperators.Contains(Current.Text))
                rest.Add((Advance().Text, ParseMath1()));
            else if (SkipName("in"))
                rest.Add(("in", ParseMath1()));
            else if (Current.IsName("not") && Peek.IsName("in"))
            {
                Advance();
                Advance();
                rest.Add(("notin", ParseMath1()));
            }
            else
                break;
        }
        return rest.Count == 0 ? first : new CompareExpr(at, first, rest);
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            var op = Advance();
            left = new BinaryExpr(op.Offset, op.Text, left, ParseConcat());
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMath2();
        while (Current.IsOperator("~"))
            left = new BinaryExpr(Advance().Offset, "~", left, ParseMath2());
        return left;
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.Kind == TokenKind.Operator && Current.Text is "*" or "/" or "//" or "%")
        {
            var op = Advance();
            left = new BinaryExpr(op.Offset, op.Text, left, ParsePow());
        }
        return left;
    }

    // Jinja's ** is left-associative (2 ** 3 ** 2 == 64), unlike Python's.
    private Expr ParsePow()
    {
        var left = ParseUnary(withFilter: true);
        while (Current.IsOperator("**"))
            left = new BinaryExpr(Advance().Offset, "**", left, ParseUnary(withFilter: true));
        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        var token = Current;
        Enter(token.Offset);
        Expr node;
        if (token.IsOperator("-") || token.IsOperator("+"))
        {
            Advance();
            node = new UnaryExpr(token.Offset, token.Text, ParseUnary(withFilter: false));
        }
        else
            node = ParsePrimary();
        node = ParsePostfix(node);
        if (withFilter)
            node = ParseFilterExpr(node);
        Leave();
        return node;
    }

    private Expr ParsePrimary()
    {
        var token = Current;
        switch (token.Kind)
        {
            case TokenKind.Name:
                Advance();
                return token.Text switch
                {
                    "true" or "True" => new ConstExpr(token.Offset, true),
                    "false" or "False" => new ConstExpr(token.Offset, false),
                    "none" or "None" => new ConstExpr(token.Offset, null),
                    _ => new NameExpr(token.Offset, token.Text),
                };
            case TokenKind.String:
                // Adjacent string literals concatenate, as in Python.
                string text = Advance().Text;
                while (Current.Kind == TokenKind.String)
                    text += Advance().Text;
                return new ConstExpr(token.Offset, text);
            case TokenKind.Integer or TokenKind.Float:
                Advance();
                return new ConstExpr(token.Offset, token.Value);
        }
        if (SkipOperator("("))
        {
            var inner = ParseTuple(withCondExpr: true, explicitParentheses: true);
            ExpectOperator(")");
            return inner;
        }
        if (token.IsOperator("["))
            return ParseList();
        if (token.IsOperator("{"))
            return ParseDict();
        throw Error($"unexpected {Describe(token)}");
    }

    private ListExpr ParseList()
    {
        int at = Advance().Offset;
        var items = new List<Expr>();
        while (!Current.IsOperator("]"))
        {
            if (items.Count > 0)
                ExpectOperator(",");
            if (Current.IsOperator("]"))
                break;
            items.Add(ParseExpression(withCondExpr: true));
        }
        Advance();
        return new ListExpr(at, items);
    }

    private DictExpr ParseDict()
    {
        int at = Advance().Offset;
        var pairs = new List<(Expr, Expr)>();
        while (!Current.IsOperator("}"))
        {
            if (pairs.Count > 0)
                ExpectOperator(",");
            if (Current.IsOperator("}"))
                break;
            var key = ParseExpression(withCondExpr: true);
            ExpectOperator(":");
            pairs.Add((key, ParseExpression(withCondExpr: true)));
        }
        Advance();
        return new DictExpr(at, pairs);
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator(".") || Current.IsOperator("["))
                node = ParseSubscript(node);
            else if (Current.IsOperator("("))
                node = new CallExpr(node.Offset, node, ParseCallArgs()); // errors point at the callee
            else
                return node;
        }
    }

    private Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("|"))
                node = ParseFilter(node);
            else if (Current.IsName("is"))
                node = ParseTest(node);
            else if (Current.IsOperator("("))
                node = new CallExpr(node.Offset, node, ParseCallArgs()); // errors point at the callee
            else
                return node;
        }
    }

    private Expr ParseSubscript(Expr node)
    {
        var token = Advance();
        if (token.Text == ".")
        {
            var attribute = Advance();
            return attribute.Kind switch
            {
                TokenKind.Name => new GetAttrExpr(token.Offset, node, attribute.Text),
                TokenKind.Integer => new GetItemExpr(token.Offset, node, new ConstExpr(attribute.Offset, attribute.Value)),
                _ => throw Error("expected a name or number after '.'", attribute.Offset),
            };
        }
        var keys = new List<Expr>();
        while (!Current.IsOperator("]"))
        {
            if (keys.Count > 0)
                ExpectOperator(",");
            keys.Add(ParseSubscribed());
        }
        Advance();
        return new GetItemExpr(token.Offset, node, keys.Count == 1 ? keys[0] : new TupleExpr(token.Offset, keys));
    }

    /// <summary>An index or a slice (<c>a:b:c</c>, any part optional).</summary>
    private Expr ParseSubscribed()
    {
        int at = Current.Offset;
        Expr? start = null;
        if (!Current.IsOperator(":"))
        {
            start = ParseExpression(withCondExpr: true);
            if (!Current.IsOperator(":"))
                return start;
        }
        Advance();
        Expr? stop = Current.IsOperator(":") || Current.IsOperator("]") || Current.IsOperator(",") ? null : ParseExpression(withCondExpr: true);
        Expr? step = null;
        if (SkipOperator(":") && !Current.IsOperator("]") && !Current.IsOperator(","))
            step = ParseExpression(withCondExpr: true);
        return new SliceExpr(at, start, stop, step);
    }

    private CallArgs ParseCallArgs()
    {
        ExpectOperator("(");
        var args = new CallArgs([], []);
        bool needComma = false;
        while (!Current.IsOperator(")"))
        {
            if (needComma)
            {
                ExpectOperator(",");
                if (Current.IsOperator(")"))
                    break;
            }
            if (Current.IsOperator("*") || Current.IsOperator("**"))
                throw TemplateError.At(Current.Offset, ChatTemplateErrorKind.Unsupported, $"'{Current.Text}' argument unpacking in calls");
            if (Current.Kind == TokenKind.Name && Peek.IsOperator("="))
            {
                string key = Advance().Text;
                Advance();
                args.Keywords.Add((key, ParseExpression(withCondExpr: true)));
            }
            else
            {
                if (args.Keywords.Count > 0)
                    throw Error("positional argument follows keyword argument");
                args.Positional.Add(ParseExpression(withCondExpr: true));
            }
            needComma = true;
        }
        Advance();
        return args;
    }

    private string ParseDottedName()
    {
        string name = Expect(TokenKind.Name).Text;
        while (SkipOperator("."))
            name += "." + Expect(TokenKind.Name).Text;
        return name;
    }

    /// <summary>One or more <c>| name(args)</c> applied to <paramref name="node"/> (null for a block's body).</summary>
    private FilterExpr ParseFilter(Expr? node, bool startInline = false)
    {
        FilterExpr? filter = null;
        while (Current.IsOperator("|") || startInline)
        {
            if (!startInline)
                Advance();
            startInline = false;
            int at = Current.Offset;
            string name = ParseDottedName();
            if (!Filters.Exists(name))
                throw Filters.IsJinjaBuiltin(name)
                    ? TemplateError.At(at, ChatTemplateErrorKind.Unsupported, $"the '{name}' filter is not supported")
                    : TemplateError.At(at, ChatTemplateErrorKind.Syntax, $"no filter named '{name}'");
            var args = Current.IsOperator("(") ? ParseCallArgs() : CallArgs.None;
            filter = new FilterExpr(at, (Expr?)filter ?? node, name, args);
        }
        return filter ?? throw Error("expected a filter");
    }

    private Expr ParseTest(Expr node)
    {
        int isAt = Advance().Offset;
        bool negated = SkipName("not");
        int at = Current.Offset;
        string name = ParseDottedName();
        if (!TestFunctions.Exists(name))
            throw TemplateError.At(at, ChatTemplateErrorKind.Syntax, $"no test named '{name}'");
        var args = CallArgs.None;
        if (Current.IsOperator("("))
            args = ParseCallArgs();
        else if ((Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
                  || Current.IsOperator("[") || Current.IsOperator("{"))
                 && !Current.IsName("else") && !Current.IsName("or") && !Current.IsName("and"))
        {
            // A test takes one bare argument: "x is divisibleby 3", "role is equalto 'user'".
            if (Current.IsName("is"))
                throw Error("you cannot chain multiple tests with 'is'");
            args = new CallArgs([ParsePostfix(ParsePrimary())], []);
        }
        Expr test = new TestExpr(at, node, name, args);
        return negated ? new UnaryExpr(isAt, "not", test) : test;
    }
}
