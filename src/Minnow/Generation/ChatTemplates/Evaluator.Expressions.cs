namespace Minnow.Generation.ChatTemplates;

internal sealed partial class Evaluator
{
    public object? Eval(Expr expr)
    {
        Step();
        Enter();
        try
        {
            switch (expr)
            {
                case ConstExpr constant:
                    return constant.Value;
                case NameExpr name:
                    return Lookup(name.Name);
                case GetAttrExpr attribute:
                    return Py.GetAttr(Eval(attribute.Target), attribute.Name);
                case GetItemExpr item:
                    var target = Eval(item.Target);
                    var index = Eval(item.Key);
                    return index is PySlice range ? Py.Slice(target, range) : Py.GetItem(target, index);
                case SliceExpr slice:
                    return new PySlice(EvalOptional(slice.Start), EvalOptional(slice.Stop), EvalOptional(slice.Step));
                case BinaryExpr binary:
                    return EvalBinary(binary);
                case UnaryExpr unary:
                    var operand = Eval(unary.Operand);
                    return unary.Op switch
                    {
                        "not" => !Py.IsTruthy(operand),
                        "-" => Py.Negate(operand),
                        _ => Py.Plus(operand),
                    };
                case CompareExpr compare:
                    var left = Eval(compare.First);
                    foreach (var (op, operandExpr) in compare.Rest)
                    {
                        var right = Eval(operandExpr);
                        if (!Py.Compare(op, left, right))
                            return false;
                        left = right;
                    }
                    return true;
                case CondExpr conditional:
                    if (Py.IsTruthy(Eval(conditional.Test)))
                        return Eval(conditional.Then);
                    return conditional.Otherwise is null
                        ? Undefined.WithHint("the inline if-expression evaluated to false and no else section was defined.")
                        : Eval(conditional.Otherwise);
                case ListExpr list:
                    return list.Items.Select(Eval).ToList();
                case TupleExpr tuple:
                    return tuple.Items.Select(Eval).ToArray();
                case DictExpr dict:
                    var result = new PyDict();
                    foreach (var (key, value) in dict.Pairs)
                        result.Set(Eval(key), Eval(value));
                    return result;
                case CallExpr call:
                    var callee = Eval(call.Callee);
                    return Call(callee, EvalArgs(call.Args));
                case FilterExpr filter:
                    var input = Eval(filter.Value ?? throw new InvalidOperationException("filter without input"));
                    return Filters.Apply(this, filter.Name, input, EvalArgs(filter.Args));
                case TestExpr test:
                    return TestFunctions.Apply(this, test.Name, Eval(test.Value), EvalArgs(test.Args));
                default:
                    throw new InvalidOperationException(expr.GetType().Name);
            }
        }
        catch (TemplateError e) when (e.Offset < 0)
        {
            e.Offset = expr.Offset;
            throw;
        }
        finally
        {
            _depth--;
        }
    }

    private object? EvalOptional(Expr? expr) => expr is null ? null : Eval(expr);

    private object? EvalBinary(BinaryExpr binary)
    {
        var left = Eval(binary.Left);
        switch (binary.Op)
        {
            case "and":
                return Py.IsTruthy(left) ? Eval(binary.Right) : left;
            case "or":
                return Py.IsTruthy(left) ? left : Eval(binary.Right);
            case "~":
                return Py.Concat(this, left, Eval(binary.Right));
            default:
                return Py.Binary(this, binary.Op, left, Eval(binary.Right));
        }
    }

    private Arguments EvalArgs(CallArgs args)
    {
        if (args.Positional.Count == 0 && args.Keywords.Count == 0)
            return Arguments.Empty;
        var positional = new List<object?>(args.Positional.Count);
        foreach (var arg in args.Positional)
            positional.Add(Eval(arg));
        var keywords = new List<KeyValuePair<string, object?>>(args.Keywords.Count);
        foreach (var (name, value) in args.Keywords)
            keywords.Add(new(name, Eval(value)));
        return new Arguments(positional, keywords);
    }

    /// <summary>Calls a function, method, macro or loop; calling Undefined reports the undefined name.</summary>
    public object? Call(object? callee, Arguments args) => callee switch
    {
        ICallable function => function.Call(this, args),
        Undefined undefined => throw undefined.Error(),
        _ => throw TemplateError.Runtime($"'{Py.TypeName(callee)}' object is not callable"),
    };
}
