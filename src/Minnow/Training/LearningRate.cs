namespace Minnow.Training;

/// <summary>Learning-rate schedules as pure functions of the step.</summary>
public static class LearningRate
{
    /// <summary>
    /// nanoGPT's get_lr: linear warm-up to <paramref name="maxLr"/> over <paramref name="warmupSteps"/> steps
    /// (maxLr·(step+1)/(warmup+1)), then a cosine decay to <paramref name="minLr"/> at <paramref name="decaySteps"/>,
    /// and <paramref name="minLr"/> after. <paramref name="step"/> counts from 0.
    /// </summary>
    public static float WarmupCosine(int step, float maxLr, float minLr, int warmupSteps, int decaySteps)
    {
        if (step < warmupSteps)
            return maxLr * (step + 1) / (warmupSteps + 1);
        if (step > decaySteps)
            return minLr;
        double ratio = decaySteps == warmupSteps ? 1.0 : (double)(step - warmupSteps) / (decaySteps - warmupSteps);
        double coefficient = 0.5 * (1 + Math.Cos(Math.PI * ratio));
        return (float)(minLr + coefficient * (maxLr - minLr));
    }
}
