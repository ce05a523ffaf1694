"""Reading settings from the environment and `.env`, shared by the three processes."""

from config.env import EnvReader, SettingsError, load_dotenv_file

__all__ = ["EnvReader", "SettingsError", "load_dotenv_file"]
