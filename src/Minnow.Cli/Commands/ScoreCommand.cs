using System.CommandLine;
using Minnow.Evaluation;

namespace Minnow.Cli.Commands;

/// <summary><c>minnow score</c>: how likely a model finds a text — per-token log-probabilities and perplexity.</summary>
public static class ScoreCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var tokenizer = Cli.TokenizerOption();
        var text = new Option<string?>("--text") { Description = "Text to score (encoded with the model's BOS token).", HelpName = "TEXT" };
        var ids = new Option<string?>("--ids") { Description = "Token ids to score, comma-separated, used verbatim (no BOS added).", HelpName = "1,2,3" };
        var threads = Cli.ThreadsOption();
        var kvCache = Cli.KvCacheOption();
        var noRepack = Cli.NoRepackOption();
        var json = Cli.JsonOption();
        var command = new Command("score",
            "Score a sequence: log P(id[i+1] | id[0..i]) for every token after the first (natural log), their sum, the mean negative log-likelihood and the perplexity.")
        {
            model, tokenizer, text, ids, threads, kvCache, noRepack, json,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            string? textValue = parse.GetValue(text), idsValue = parse.GetValue(ids);
            if ((textValue is null) == (idsValue is null))
                throw new InvalidInputException("give exactly one of --text TEXT or --ids 1,2,3");
            using var loaded = Cli.LoadModel(parse.GetValue(model), parse.GetValue(tokenizer), parse.GetValue(threads), parse.GetValue(kvCache), parse.GetValue(noRepack));
            int[] sequence;
            if (idsValue is not null)
                sequence = Cli.ParseIds(idsValue, "--ids");
            else if (loaded.Tokenizer is null)
                throw new InvalidInputException($"{loaded.Source} has no tokenizer: pass --tokenizer FILE, or give --ids");
            else
                sequence = loaded.Tokenizer.Encode(textValue!, addSpecial: true);
            if (sequence.Length < 2)
                throw new InvalidInputException($"scoring needs at least 2 tokens (the first is only context), got {sequence.Length}");
            foreach (int id in sequence)
                if ((uint)id >= (uint)loaded.Model.Config.VocabSize)
                    throw new InvalidInputException($"id {id} is outside the model's vocabulary [0, {loaded.Model.Config.VocabSize})");

            var result = Scorer.Score(loaded.Model, sequence);
            if (parse.GetValue(json))
            {
                Cli.WriteJson(new
                {
                    Ids = sequence,
                    result.TokenLogprobs,
                    result.TotalLogprob,
                    result.MeanNll,
                    result.Perplexity,
                });
                return 0;
            }
            for (int i = 0; i < result.TokenLogprobs.Length; i++)
            {
                int id = sequence[i + 1];
                string token = loaded.Tokenizer is null ? "" : System.Text.Json.JsonSerializer.Serialize(loaded.Tokenizer.IdToToken(id), Cli.JsonOptions);
                Console.Out.WriteLine($"{i + 1,6}  {id,7}  {result.TokenLogprobs[i],10:F4}  {token}");
            }
            Console.Out.WriteLine($"total log-prob {result.TotalLogprob:F4}, mean NLL {result.MeanNll:F4} nats/token, perplexity {result.Perplexity:F3}");
            return 0;
        }));
        return command;
    }
}
