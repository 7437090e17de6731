namespace Minnow.Generation.ChatTemplates;

/// <summary>Python's binary and unary operators. Integers are 64-bit here; overflow is reported instead of wrapping.</summary>
internal static partial class Py
{
    public static object? Binary(Evaluator ev, string op, object? a, object? b)
    {
        // str % Undefined works in Python: Undefined looks like a mapping to printf-style formatting.
        if (op == "%" && IsString(a, out var format))
            return PyFormat.Percent(ev, format, b);
        if (a is Undefined ua)
            throw ua.Error();
        if (b is Undefined ub)
            throw ub.Error();
        try
        {
            return op switch
            {
                "+" => Add(ev, a, b),
                "-" => Numeric(op, a, b, (x, y) => checked(x - y), (x, y) => x - y),
                "*" => Multiply(ev, a, b),
                "/" => Divide(a, b),
                "//" => FloorDivide(a, b),
                "%" => Modulo(ev, a, b),
                "**" => Power(a, b),
                _ => throw new InvalidOperationException(op),
            };
        }
        catch (OverflowException)
        {
            throw TemplateError.Runtime($"integer overflow in '{op}' (template integers are 64-bit)");
        }
    }

    public static object? Negate(object? v) => v switch
    {
        Undefined u => throw u.Error(),
        long l => (object)checked(-l),
        double d => -d,
        bool b => b ? -1L : 0L,
        _ => throw TemplateError.Runtime($"bad operand type for unary -: '{TypeName(v)}'"),
    };

    public static object? Plus(object? v) => v switch
    {
        Undefined u => throw u.Error(),
        long or double => v,
        bool b => b ? 1L : 0L,
        _ => throw TemplateError.Runtime($"bad operand type for unary +: '{TypeName(v)}'"),
    };

    private static object? Numeric(string op, object? a, object? b, Func<long, long, long> onIntegers, Func<double, double, double> onFloats)
    {
        if (!IsNumber(a) || !IsNumber(b))
            throw OperandError(op, a, b);
        if (a is double || b is double)
            return onFloats(ToDouble(a), ToDouble(b));
        return onIntegers(ToLong(a), ToLong(b));
    }

    private static TemplateError OperandError(string op, object? a, object? b) =>
        TemplateError.Runtime($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");

    private static object? Add(Evaluator ev, object? a, object? b)
    {
        // markupsafe: adding a plain string to a Markup escapes the plain one.
        if (a is Markup ma && IsString(b, out var right))
            return new Markup(ma.Value + (b is Markup ? right : HtmlEscape(right)));
        if (b is Markup mb && a is string left)
            return new Markup(HtmlEscape(left) + mb.Value);
        switch (a, b)
        {
            case (string x, string y):
                ev.ChargeSize(x.Length + (long)y.Length);
                return x + y;
            case (string, _):
                throw TemplateError.Runtime($"can only concatenate str (not \"{TypeName(b)}\") to str");
            case (List<object?> x, List<object?> y):
                ev.ChargeSize(x.Count + (long)y.Count);
                return x.Concat(y).ToList();
            case (List<object?>, _):
                throw TemplateError.Runtime($"can only concatenate list (not \"{TypeName(b)}\") to list");
            case (object?[] x, object?[] y):
                ev.ChargeSize(x.Length + (long)y.Length);
                return x.Concat(y).ToArray();
            case (object?[], _):
                throw TemplateError.Runtime($"can only concatenate tuple (not \"{TypeName(b)}\") to tuple");
            default:
                return Numeric("+", a, b, (x, y) => checked(x + y), (x, y) => x + y);
        }
    }

    private static object? Multiply(Evaluator ev, object? a, object? b)
    {
        if (IsInteger(a, out _) && !IsNumber(b))
            (a, b) = (b, a);
        if (!IsNumber(a) && IsInteger(b, out long times))
        {
            times = Math.Max(times, 0);
            switch (a)
            {
                case string s:
                    ev.ChargeSize(s.Length * (double)times);
                    return string.Concat(Enumerable.Repeat(s, (int)times));
                case List<object?> l:
                    ev.ChargeSize(l.Count * (double)times);
                    return Enumerable.Repeat(l, (int)times).SelectMany(x => x).ToList();
                case object?[] t:
                    ev.ChargeSize(t.Length * (double)times);
                    return Enumerable.Repeat(t, (int)times).SelectMany(x => x).ToArray();
            }
        }
        return Numeric("*", a, b, (x, y) => checked(x * y), (x, y) => x * y);
    }

    private static object? Divide(object? a, object? b)
    {
        if (!IsNumber(a) || !IsNumber(b))
            throw OperandError("/", a, b);
        double y = ToDouble(b);
        if (y == 0)
            throw TemplateError.Runtime(a is double || b is double ? "float division by zero" : "division by zero");
        return ToDouble(a) / y;
    }

    private static object? FloorDivide(object? a, object? b)
    {
        if (!IsNumber(a) || !IsNumber(b))
            throw OperandError("//", a, b);
        if (a is double || b is double)
            return FloatDivMod(ToDouble(a), ToDouble(b)).Div;
        long x = ToLong(a), y = ToLong(b);
        if (y == 0)
            throw TemplateError.Runtime("integer division or modulo by zero");
        long q = x / y;
        return (x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q;
    }

    private static object? Modulo(Evaluator ev, object? a, object? b)
    {
        if (!IsNumber(a) || !IsNumber(b))
            throw OperandError("%", a, b);
        if (a is double || b is double)
            return FloatDivMod(ToDouble(a), ToDouble(b)).Mod;
        long x = ToLong(a), y = ToLong(b);
        if (y == 0)
            throw TemplateError.Runtime("integer modulo by zero");
        long r = x % y;
        return r != 0 && (r < 0) != (y < 0) ? r + y : r;
    }

    // CPython's float_divmod, so // and % agree with Python on signs and rounding.
    private static (double Div, double Mod) FloatDivMod(double x, double y)
    {
        if (y == 0)
            throw TemplateError.Runtime("float floor division by zero");
        double mod = x % y; // C# % on doubles is C fmod
        double div = (x - mod) / y;
        if (mod != 0)
        {
            if ((y < 0) != (mod < 0))
            {
                mod += y;
                div -= 1.0;
            }
        }
        else
            mod = Math.CopySign(0.0, y);
        double floorDiv;
        if (div != 0)
        {
            floorDiv = Math.Floor(div);
            if (div - floorDiv > 0.5)
                floorDiv += 1.0;
        }
        else
            floorDiv = Math.CopySign(0.0, x / y);
        return (floorDiv, mod);
    }

    private static object? Power(object? a, object? b)
    {
        if (!IsNumber(a) || !IsNumber(b))
            throw OperandError("** or pow()", a, b);
        if (a is double || b is double || ToLong(b) < 0)
        {
            double x = ToDouble(a), y = ToDouble(b);
            if (x == 0 && y < 0)
                throw TemplateError.Runtime("0.0 cannot be raised to a negative power");
            return Math.Pow(x, y);
        }
        long result = 1, power = ToLong(a);
        for (long e = ToLong(b); e > 0; e >>= 1)
        {
            if ((e & 1) != 0)
                result = checked(result * power);
            if (e > 1)
                power = checked(power * power);
        }
        return result;
    }
}
