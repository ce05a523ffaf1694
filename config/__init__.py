"""Reading settings from the environment and `.env`, shared by the three processes."""

from config.env import SettingsError, EnvReader, load_dotenv_file

__all__ = ["SettingsError", "EnvReader", "load_dotenv_file"]
